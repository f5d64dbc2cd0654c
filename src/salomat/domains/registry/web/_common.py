"""What the registrar's pages share: the router, form helpers, labels from the pack."""

from __future__ import annotations

from fastapi import Request

from salomat.core.config import get_settings
from salomat.core.params import parse_version
from salomat.core.uow import DbSession, router
from salomat.country import national_id as nid
from salomat.country import pack

web = router(include_in_schema=False)
Session = DbSession


def _blank_to_none(values: dict[str, str]) -> dict[str, str | None]:
    return {k: (v.strip() or None) for k, v in values.items()}


def _country() -> str:
    return get_settings().country


def _id_label() -> str:
    return nid.name(_country())


def _htmx(request: Request) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


def _facility_types() -> dict[str, dict[str, str]]:
    return {t["code"]: t.get("name", {}) for t in pack.load(_country())["facility_types"]}


def _version(value: str) -> int | None:
    return parse_version(value.strip())
