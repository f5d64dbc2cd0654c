"""The region a territory lies in (the "region above"): the one walk up the territory
tree that access (service/access.py), the road network (service/roads.py) and the
settlements of an area (service/settlements.py, ``area_rows``) share."""

from __future__ import annotations

from typing import Any

__all__ = ["region_of"]


async def region_of(session: Any, territory_code: str) -> Any | None:
    """The region of the territory: itself for a region, one step up from a district, two
    from a settlement (the registry's ``TerritoryOut``); None for an unknown code or a
    territory under no region."""
    from salomat.domains.registry import service as registry

    t = await registry.territory_by_code(session, territory_code)
    for _ in range(2):
        if t is None or t.level == "region" or t.parent_code is None:
            break
        t = await registry.territory_by_code(session, t.parent_code)
    return t if t is not None and t.level == "region" else None
