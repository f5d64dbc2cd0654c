"""The referring doctor's pages and the registry clerk's: a person's sanatorium referrals
with the form to refer; one referral with its place in line, its offer, stay and
discharge summary, and the queue's log; the clerk's correction of a category.

Plain HTML forms (they work without JavaScript). A refused form is shown again with
each message beside its field and the refusal's 4xx status, so the unit of work rolls
back and nothing is stored.

Who sees what: a doctor (``sanatorium:read``) opens a referral of a person in her
scope, clinical content included. The registry clerk (``sanatorium:queue``) corrects an
entitlement category: she finds the person's referrals by national id and opens an
entry on her own page (``/sanatorium/queue-entries/...``), which shows the queue's
facts and log but no indication, condition, attestation or discharge summary (she has
no need of them). Every opening is audited by the service (``open_referral``); a
referral out of scope is 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.core.user_names import user_names
from salomat.country import national_id
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import (
    BookIn,
    CancelIn,
    ConfirmIn,
    ReferralIn,
    ReferralOut,
    ReorderIn,
)
from salomat.domains.sanatorium.service.referrals import events_of
from salomat.domains.sanatorium.web.common import (
    base_ctx,
    category_name,
    codes,
    errors_of,
    loose,
    page_language,
    profile_name,
    read_form,
    values,
)
from salomat.ui import forms
from salomat.ui.templating import NavItem, can, redirect, register_nav, render

pages = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("sanatorium:read"))]
Referrer = Annotated[Principal, Depends(Require("sanatorium:refer"))]
Clerk = Annotated[Principal, Depends(Require("sanatorium:queue"))]

QUEUE_PAGE = "/sanatorium/queue-entries"
register_nav(NavItem(N_("Sanatorium queue"), QUEUE_PAGE, "sanatorium:queue", order=16))

#: a referral in progress (one a person at a time)
ACTIVE = ("pending_indication", "referred", "queued", "offered", "booked", "arrived")
CANCELLABLE = ("pending_indication", "referred", "queued", "offered", "booked")
REORDERABLE = ("pending_indication", "queued", "offered")

#: what each form posts
FIELDS: dict[str, tuple[str, ...]] = {
    "refer": (
        "indication",
        "profile",
        "category",
        "conditions",
        "attestation",
        "last_stay_ended_on",
    ),
    "confirm": ("indication", "conditions", "attestation", "category"),
    "book": ("period_id",),
    "cancel": ("reason",),
    "reorder": ("category", "reason"),
    "lookup": ("national_id",),
}
#: what the page says after a change (``?done=``)
DONE = {
    "referred": N_("The referral is made."),
    "confirmed": N_("The indication is confirmed: the referral stands in the queue."),
    "booked": N_("The place is booked."),
    "cancelled": N_("The referral is cancelled."),
    "reordered": N_("The category is corrected; the change is in the queue's log."),
}


def _options() -> tuple[dict[str, str], dict[str, str]]:
    """The pack's profiles and categories named in the current language."""
    rules = service.sanatorium_rules()
    profiles = {code: profile_name(code) for code in rules.profiles}
    categories = {code: category_name(code) for code in rules.categories}
    return profiles, categories


def _refusal(e: SalomatError, failed: str, form: dict[str, str]) -> dict[str, Any]:
    errors = errors_of(e.errors)
    return {
        "failed": failed,
        "form": form,
        "errors": errors,
        "loose": loose(errors, FIELDS[failed]),
        "error": e,
    }


async def _settle(session: DbSession, e: SalomatError) -> None:
    """A refusal the page shows again: 404 is the error page; a change that lost a race
    (409, 412) may leave the session unusable, so the page is read afresh."""
    if e.status == 404:
        raise e
    if e.status in (409, 412):
        await session.rollback()


# ---- one person's referrals --------------------------------------------------------------


async def _person_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="sanatorium")
    items = await service.list_person_referrals(session, principal, person_id)
    alive = person.deceased_on is None and person.merged_into_id is None
    active = next((r for r in items if r.status in ACTIVE), None)
    profiles, categories = _options()
    ctx: dict[str, Any] = {
        **base_ctx(),
        "person": person,
        "items": items,
        "active": active,
        "can_refer": can(principal, "sanatorium:refer")
        and principal.facility_id is not None
        and alive
        and active is None,
        "profiles": profiles,
        "categories": categories,
        "today": service.local_today().isoformat(),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sanatorium/doctor_person.html", ctx, status=status)


@pages.get("/patients/{person_id}/sanatorium", response_class=HTMLResponse)
async def person_page(
    request: Request, session: DbSession, person_id: RowId, principal: Reader
) -> Response:
    """The person's sanatorium referrals, newest first, and the form to refer."""
    with page_language(request):
        return await _person_page(request, session, principal, person_id)


@pages.post("/patients/{person_id}/sanatorium", response_class=HTMLResponse)
async def refer_page(
    request: Request, session: DbSession, person_id: RowId, principal: Referrer
) -> Response:
    """Refer from the form; a refused one comes back with its messages, nothing stored."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS["refer"])
        raw: dict[str, Any] = {
            "indication": form["indication"].upper(),
            "profile": form["profile"] or None,
            "category": form["category"],
            "conditions": codes(form["conditions"]),
            "attestation": form["attestation"] or None,
            "last_stay_ended_on": form["last_stay_ended_on"] or None,
        }
        try:
            data = forms.validate(ReferralIn, raw)
            r = await service.refer(session, principal, person_id, data)
        except SalomatError as e:
            await _settle(session, e)
            extra = _refusal(e, "refer", form)
            return await _person_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/sanatorium/referrals/{r.id}?done=referred")


# ---- one referral --------------------------------------------------------------------------


async def _referral_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    referral_id: int,
    *,
    clerk: bool,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    r = await service.get_referral(session, principal, referral_id)
    events = await events_of(session, r.id)
    person = (await registry.person_briefs(session, [r.person_id])).get(r.person_id)
    names = {} if clerk else await user_names(session, [r.referred_by, r.attested_by])
    may_refer = not clerk and can(principal, "sanatorium:refer") and principal.facility_id
    everywhere = request.query_params.get("everywhere") == "1"
    free = []
    if may_refer and r.direct and r.status == "referred":
        region = None if everywhere or not r.region else r.region
        free = [
            p
            for p in await service.free_places(session, profile=r.profile, region=region)
            if p.free > 0
        ]
    _profiles, categories = _options()
    rules = service.sanatorium_rules()
    queued_categories = {c: n for c, n in categories.items() if not rules.categories[c].direct}
    done = request.query_params.get("done", "")
    ctx: dict[str, Any] = {
        **base_ctx(),
        "r": r,
        "events": events,
        "person": person,
        "names": names,
        "clerk": clerk,
        "base": f"{QUEUE_PAGE}/{r.id}" if clerk else f"/sanatorium/referrals/{r.id}",
        "can_confirm": bool(may_refer) and r.status == "pending_indication",
        "can_book": bool(may_refer) and r.direct and r.status == "referred",
        "can_cancel": bool(may_refer) and r.status in CANCELLABLE,
        "can_reorder": clerk and r.status in REORDERABLE and not r.direct,
        "free": free,
        "everywhere": everywhere,
        "regional": bool(r.region),
        "queued_categories": queued_categories,
        "done": DONE.get(done),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sanatorium/doctor_referral.html", ctx, status=status)


@pages.get("/sanatorium/referrals/{sanatorium_referral_id}", response_class=HTMLResponse)
async def referral_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Reader
) -> Response:
    """One referral: status, place in line and wait, warnings, offer, stay and summary,
    the queue's log; the forms of a doctor who may refer."""
    with page_language(request):
        return await _referral_page(
            request, session, principal, sanatorium_referral_id, clerk=False
        )


async def _change(
    request: Request,
    session: DbSession,
    principal: Principal,
    referral_id: int,
    action: str,
    run: Any,
    *,
    clerk: bool = False,
) -> Response:
    """One change of one referral from its form; the page again if refused."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS[action])
        try:
            out: ReferralOut = await run(form)
        except SalomatError as e:
            await _settle(session, e)
            extra = _refusal(e, action, form)
            return await _referral_page(
                request, session, principal, referral_id, clerk=clerk, extra=extra, status=e.status
            )
    done = {
        "confirm": "confirmed",
        "book": "booked",
        "cancel": "cancelled",
        "reorder": "reordered",
    }[action]
    where = f"{QUEUE_PAGE}/{out.id}" if clerk else f"/sanatorium/referrals/{out.id}"
    return redirect(f"{where}?done={done}")


@pages.post("/sanatorium/referrals/{sanatorium_referral_id}/confirm", response_class=HTMLResponse)
async def confirm_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Referrer
) -> Response:
    """Confirm a citizen's own application with the indication (and her conditions), and
    the category as her document shows it (default: the one she declared): the tier
    follows it."""

    async def run(form: dict[str, str]) -> ReferralOut:
        data = forms.validate(
            ConfirmIn,
            {
                "indication": form["indication"].upper(),
                "conditions": codes(form["conditions"]),
                "attestation": form["attestation"] or None,
                "category": form["category"] or None,
            },
        )
        return await service.confirm_indication(session, principal, sanatorium_referral_id, data)

    return await _change(request, session, principal, sanatorium_referral_id, "confirm", run)


@pages.post("/sanatorium/referrals/{sanatorium_referral_id}/book", response_class=HTMLResponse)
async def book_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Referrer
) -> Response:
    """Book a free place of a period for a direct referral (after-care)."""

    async def run(form: dict[str, str]) -> ReferralOut:
        if not form["period_id"]:
            raise Invalid.fields([FieldError("period_id", N_("choose an arrival period"))])
        data = forms.validate(BookIn, {"period_id": form["period_id"]})
        return await service.book_direct(session, principal, sanatorium_referral_id, data)

    return await _change(request, session, principal, sanatorium_referral_id, "book", run)


@pages.post("/sanatorium/referrals/{sanatorium_referral_id}/cancel", response_class=HTMLResponse)
async def cancel_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Referrer
) -> Response:
    """Take the referral out of the queue with a reason (an offer or booked bed is freed)."""

    async def run(form: dict[str, str]) -> ReferralOut:
        data = forms.validate(CancelIn, {"reason": form["reason"]})
        return await service.cancel_referral(
            session, principal, sanatorium_referral_id, data.reason
        )

    return await _change(request, session, principal, sanatorium_referral_id, "cancel", run)


# ---- the registry clerk ------------------------------------------------------------------


async def _lookup_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    ctx: dict[str, Any] = {
        **base_ctx(),
        "national_id_name": national_id.name(get_settings().country),
        "person": None,
        "items": None,
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sanatorium/doctor_queue_lookup.html", ctx, status=status)


@pages.get(QUEUE_PAGE, response_class=HTMLResponse)
async def lookup_page(request: Request, session: DbSession, principal: Clerk) -> Response:
    """The clerk's way in: a person's referrals by her national id."""
    with page_language(request):
        return await _lookup_page(request, session, principal)


@pages.post(QUEUE_PAGE, response_class=HTMLResponse)
async def lookup_post(request: Request, session: DbSession, principal: Clerk) -> Response:
    """The person's referrals (the read is audited); a number nobody has is refused. The
    number is posted, not put in the address, so that it stays out of access logs."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS["lookup"])
        value = form["national_id"]
        try:
            if not value or len(value) > 32 or not value.isascii() or not value.isalnum():
                raise Invalid.fields(
                    [FieldError("national_id", N_("give the person's national id (digits)"))]
                )
            person_id = await registry.person_id_by_national_id(session, value)
            if person_id is None:
                raise Invalid.fields(
                    [FieldError("national_id", N_("no person in the registry has this number"))]
                )
            items = await service.list_person_referrals(session, principal, person_id)
            person = (await registry.person_briefs(session, [person_id])).get(person_id)
        except SalomatError as e:
            await _settle(session, e)
            return await _lookup_page(
                request, session, principal, _refusal(e, "lookup", form), e.status
            )
        return await _lookup_page(
            request, session, principal, {"person": person, "items": items, "form": form}
        )


@pages.get(QUEUE_PAGE + "/{sanatorium_referral_id}", response_class=HTMLResponse)
async def queue_entry_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Clerk
) -> Response:
    """One entry as the clerk sees it (no clinical content) with the form to correct its
    entitlement category."""
    with page_language(request):
        return await _referral_page(request, session, principal, sanatorium_referral_id, clerk=True)


@pages.post(QUEUE_PAGE + "/{sanatorium_referral_id}/reorder", response_class=HTMLResponse)
async def reorder_page(
    request: Request, session: DbSession, sanatorium_referral_id: RowId, principal: Clerk
) -> Response:
    """A corrected category moves the entry to its tier; the log keeps the reason."""

    async def run(form: dict[str, str]) -> ReferralOut:
        data = forms.validate(ReorderIn, {"category": form["category"], "reason": form["reason"]})
        return await service.reorder(session, principal, sanatorium_referral_id, data)

    return await _change(
        request, session, principal, sanatorium_referral_id, "reorder", run, clerk=True
    )
