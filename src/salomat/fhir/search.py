"""FHIR search plumbing shared by resources: bundles, paging links; the date prefixes
are core.fhir_dates' (named here too, as the resources' searches import them)."""

from __future__ import annotations

from typing import Any

from salomat.core.fhir_dates import LATEST, PREFIXES, parse_date_param
from salomat.core.pagination import PageParams
from salomat.fhir.common import page_links

__all__ = ["LATEST", "PREFIXES", "bundle", "parse_date_param"]


def bundle(
    base: str,
    path: str,
    params: list[tuple[str, str]],
    resources: list[dict[str, Any]],
    total: int,
    count: int,
    offset: int,
) -> dict[str, Any]:
    links = page_links(base, path, params, total, PageParams(count, offset))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": f"{base}{path}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }
