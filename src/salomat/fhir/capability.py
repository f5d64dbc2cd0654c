"""The CapabilityStatement's resource entries when several domains serve one type.

``/fhir/metadata`` lists each resource type once (CapabilityStatement cpb-... rules:
a type appears in one ``rest.resource``). A type that two domains serve (Condition: the
pregnancy register, the cancer registry, the shared record) gets one entry: the
interactions of both, the search parameters of both (one documented by both says so,
each part under its domain's label), the operations of both and the documentation of
both. ``merge`` is that
rule, called by every domain that shares a type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: an entry's members that ``merge`` combines; any other (versioning, readHistory,
#: conditionalCreate, ...) is the later domain's, which states it for its share
_COMBINED = frozenset(
    {"type", "profile", "documentation", "interaction", "searchParam", "operation"}
)


def merge(
    resources: list[dict[str, Any]],
    ours: Iterable[dict[str, Any]],
    *,
    label: str,
    their_label: str | None = None,
) -> list[dict[str, Any]]:
    """``resources`` with each of ``ours`` merged into the entry of its type, or added
    after them when no entry has its type.

    A search parameter both document reads ``<theirs>; <label>: <ours>``
    (``<their_label>: <theirs>; <label>: <ours>`` when ``their_label`` is given).
    Interactions and parameters keep their order: the existing entry's first, then the
    ones only ``ours`` has."""
    mine = {r["type"]: r for r in ours}
    out = []
    for res in resources:
        entry = mine.pop(res["type"], None)
        out.append(res if entry is None else _merged(res, entry, label, their_label))
    return out + list(mine.values())


def _merged(
    res: dict[str, Any], ours: dict[str, Any], label: str, their_label: str | None
) -> dict[str, Any]:
    codes = {i["code"] for i in res["interaction"]}
    documented = {p["name"]: p for p in ours.get("searchParam", [])}
    params = []
    for p in res.get("searchParam", []):
        q = documented.get(p["name"])
        if q is not None and p.get("documentation") and q.get("documentation"):
            theirs = f"{their_label}: {p['documentation']}" if their_label else p["documentation"]
            p = {**p, "documentation": f"{theirs}; {label}: {q['documentation']}"}
        params.append(p)
    names = {p["name"] for p in params}
    operations = res.get("operation", [])
    named = {o["name"] for o in operations}
    operations = operations + [o for o in ours.get("operation", []) if o["name"] not in named]
    return {
        **res,
        **({"operation": operations} if operations else {}),
        **{k: v for k, v in ours.items() if k not in _COMBINED},
        "interaction": res["interaction"]
        + [i for i in ours["interaction"] if i["code"] not in codes],
        "searchParam": params + [p for p in ours.get("searchParam", []) if p["name"] not in names],
        "documentation": "; ".join(
            d for d in (res.get("documentation"), ours.get("documentation")) if d
        ),
    }
