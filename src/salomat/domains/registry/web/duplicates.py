"""Duplicate review: the pairs the batch linkage found, side by side, and what to do.

Each action calls the service behind the REST routes of ``api/duplicates.py``
(``mark_distinct``, ``merge_persons``, ``unmerge``), which check scope, audit
and store versions; a refusal comes back on the list beside its pair, with a
4xx status so that nothing is stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from salomat.core.errors import FieldError, Invalid, SalomatError
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.params import MAX_ROW_ID, MAX_SMALL_ID, RowId, parse_row_id, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.domains.registry import service
from salomat.domains.registry.schemas import MergeIn, UnmergeIn
from salomat.domains.registry.web._common import (
    Session,
    _facility_types,
    _id_label,
    web,
)
from salomat.domains.registry.web.patients import CANDIDATE_REASONS
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

PAIRS_PAGE = 10
Status = Literal["open", "merged", "distinct"]
Merger = Annotated[Principal, Depends(Require("person:merge"))]

register_nav(NavItem(N_("Duplicates"), "/duplicates", "person:merge", order=15))

#: the tabs of the list, and the outcome shown after an action
STATUSES = {"open": N_("To review"), "merged": N_("Merged"), "distinct": N_("Different people")}
DONE = {
    "distinct": N_("Marked as two different people."),
    "merged": N_("The records are merged."),
    "unmerged": N_("The merge is undone: both records are back as they were."),
}


async def _list(
    request: Request,
    session: Session,
    principal: Principal,
    status: Status,
    offset: int,
    *,
    failed: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    page = await service.list_pairs(session, principal, PageParams(PAIRS_PAGE, offset), status)
    codes = {
        p.attached_facility_code
        for pair in page.items
        for p in (pair.person_a, pair.person_b)
        if p.attached_facility_code
    }
    facilities = {c: await service.facility_by_code(session, c) for c in sorted(codes)}
    ctx: dict[str, Any] = {
        "page": page,
        "status": status,
        "statuses": STATUSES,
        "facilities": facilities,
        "types": _facility_types(),
        "id_label": _id_label(),
        "reasons": CANDIDATE_REASONS,
        "done": DONE.get(request.query_params.get("done", "")),
        "failed": failed or {},
    }
    if page.offset + page.limit < page.total:
        ctx["next_url"] = "/duplicates?" + urlencode(
            {"status": status, "offset": page.offset + page.limit}
        )
    if page.offset > 0:
        ctx["prev_url"] = "/duplicates?" + urlencode(
            {"status": status, "offset": max(0, page.offset - page.limit)}
        )
    return render(request, "registry/duplicates.html", ctx, status=code)


#: the merge form's hidden fields were changed or are out of date (the pair moved on)
STALE_FORM = N_(
    "This form does not match the pair as it is stored now, so nothing was stored. "
    "Reload the page and review the pair again."
)


class _Reviewed(BaseModel):
    """The two records the merge form showed, and the versions the registrar saw.

    Every one is required: a version that is missing or cannot be one would
    otherwise turn the check for a record changed since into no check at all.
    """

    person_a: int = Field(ge=1, le=MAX_ROW_ID)
    person_b: int = Field(ge=1, le=MAX_ROW_ID)
    version_a: int = Field(ge=1, le=MAX_SMALL_ID)
    version_b: int = Field(ge=1, le=MAX_SMALL_ID)


async def _reviewed(session: Session, pair_id: int, raw: dict[str, str]) -> _Reviewed:
    """The posted records and versions, well formed and the very two of the pair in the URL."""
    try:
        seen: _Reviewed = forms.validate(_Reviewed, {k: v.strip() for k, v in raw.items()})
    except Invalid as e:
        raise Invalid.fields(e.errors, detail=STALE_FORM) from e
    pair = await service.open_pair_people(session, pair_id)
    if sorted((seen.person_a, seen.person_b)) != sorted(pair):
        raise Invalid.fields(
            [FieldError(k, STALE_FORM) for k in ("person_a", "person_b")], detail=STALE_FORM
        )
    return seen


def _offset(value: str) -> int:
    """The page the form was on, so that a refusal is shown beside its pair."""
    return parse_version(value.strip()) or 0


def _failed(pair_id: int, action: str, e: SalomatError, form: dict[str, str]) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "action": action,
        "error": e,
        "errors": forms.errors_by_field(e.errors, {"merged_id": "survivor"}),
        "form": form,
    }


@web.get("/duplicates", response_class=HTMLResponse)
async def duplicates(
    request: Request,
    session: Session,
    principal: Merger,
    status: Status = "open",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Pairs most likely first; every person shown is audited (duplicate review)."""
    return await _list(request, session, principal, status, offset)


@web.post("/duplicates/{pair_id}/distinct", response_class=HTMLResponse)
async def distinct(
    request: Request,
    session: Session,
    pair_id: RowId,
    principal: Merger,
    offset: Annotated[str, Form()] = "",
) -> Response:
    """Two different people: later linkage runs leave the pair alone."""
    try:
        await service.mark_distinct(session, principal, pair_id)
    except SalomatError as e:
        if e.status == 404:
            raise
        failed = _failed(pair_id, "distinct", e, {})
        at = _offset(offset)
        return await _list(request, session, principal, "open", at, failed=failed, code=e.status)
    return redirect("/duplicates?done=distinct")


@web.post("/duplicates/{pair_id}/merge", response_class=HTMLResponse)
async def merge(
    request: Request,
    session: Session,
    pair_id: RowId,
    principal: Merger,
    person_a: Annotated[str, Form()] = "",
    person_b: Annotated[str, Form()] = "",
    version_a: Annotated[str, Form()] = "",
    version_b: Annotated[str, Form()] = "",
    survivor: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    offset: Annotated[str, Form()] = "",
) -> Response:
    """The registrar chose which record stays (it keeps its id) and said why.

    The form must name the pair's own two records and the versions the page showed.
    """
    form = {"survivor": survivor, "reason": reason}
    raw = {"person_a": person_a, "person_b": person_b}
    raw |= {"version_a": version_a, "version_b": version_b}
    try:
        seen = await _reviewed(session, pair_id, raw)
        if survivor not in ("a", "b"):
            raise _choose_survivor()
        ids = {"a": (seen.person_a, seen.version_a), "b": (seen.person_b, seen.version_b)}
        survivor_id, survivor_version = ids[survivor]
        gone, gone_version = ids["b" if survivor == "a" else "a"]
        data = forms.validate(
            MergeIn,
            {
                "merged_id": gone,
                "reason": reason,
                "survivor_version": survivor_version,
                "merged_version": gone_version,
            },
        )
        await service.merge_persons(
            session,
            principal,
            survivor_id,
            data.merged_id,
            data.reason,
            expected_versions=(data.survivor_version, data.merged_version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        failed = _failed(pair_id, "merge", e, form)
        at = _offset(offset)
        return await _list(request, session, principal, "open", at, failed=failed, code=e.status)
    return redirect("/duplicates?done=merged")


def _choose_survivor() -> SalomatError:
    return Invalid.fields([FieldError("survivor", N_("choose the record that stays"))])


@web.post("/merges/{merge_id}/undo", response_class=HTMLResponse)
async def undo(
    request: Request,
    session: Session,
    merge_id: RowId,
    principal: Merger,
    pair_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    offset: Annotated[str, Form()] = "",
) -> Response:
    """Undo a merge exactly, with the reason (shown on the merged tab)."""
    form = {"reason": reason}
    try:
        data = forms.validate(UnmergeIn, {"reason": reason})
        await service.unmerge(session, principal, merge_id, data.reason)
    except SalomatError as e:
        if e.status == 404:
            raise
        # the pair only places the message beside its merge on the list
        failed = _failed(parse_row_id(pair_id.strip()) or 0, "undo", e, form)
        at = _offset(offset)
        return await _list(request, session, principal, "merged", at, failed=failed, code=e.status)
    return redirect("/duplicates?status=open&done=unmerged")
