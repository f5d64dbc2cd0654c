"""The obstetric record in the browser: a woman's current pregnancy, its contacts and advice.

Plain HTML forms (they work without JavaScript). A refused form is shown
again with each message beside its field and a 4xx status, so the unit of
work rolls back and nothing is stored. The contact form carries the version
the page was read at (the REST API's If-Match), so a contact recorded by
someone else in the meantime is not silently overtaken.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from salomat.core.errors import FieldError, Invalid, SalomatError, field_errors_from_pydantic
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import (
    AdviceOut,
    ContactIn,
    PregnancyDetail,
    PregnancyIn,
    ReferralIn,
    ReferralOut,
    ReferralUpdateIn,
)
from salomat.domains.maternal.service import rules
from salomat.domains.registry import service as registry
from salomat.ui.templating import NavItem, can, redirect, register_nav, render

web = router(include_in_schema=False)


def N_(message: str) -> str:
    """Marks a string for the catalog; it is translated where it is shown."""
    return message


#: labels of ``rules.DANGER_SIGNS`` (DT.01)
DANGER_SIGNS = {
    "vaginal_bleeding": N_("vaginal bleeding"),
    "convulsions": N_("convulsions"),
    "fever": N_("fever"),
    "severe_headache": N_("severe headache"),
    "visual_disturbance": N_("visual disturbance"),
    "imminent_delivery": N_("imminent delivery"),
    "labour": N_("labour"),
    "looks_very_ill": N_("looks very ill"),
    "severe_vomiting": N_("severe vomiting"),
    "severe_pain": N_("severe pain"),
    "severe_abdominal_pain": N_("severe abdominal pain"),
    "unconscious": N_("unconscious"),
    "central_cyanosis": N_("central cyanosis"),
}
#: labels of ``rules.PRE_ECLAMPSIA_SYMPTOMS`` (DT.17)
SYMPTOMS = {
    "severe_headache": N_("severe headache"),
    "blurred_vision": N_("blurred vision"),
    "epigastric_pain": N_("epigastric pain"),
    "dizziness": N_("dizziness"),
    "vomiting": N_("vomiting"),
}
assert set(DANGER_SIGNS) == rules.DANGER_SIGNS
assert set(SYMPTOMS) == rules.PRE_ECLAMPSIA_SYMPTOMS
URGENCIES = (N_("emergency"), N_("urgent"), N_("soon"), N_("routine"))
RISKS = (N_("low"), N_("medium"), N_("high"))
DATING_METHODS = {
    "lmp": N_("last menstrual period"),
    "ultrasound": N_("ultrasound"),
    "fundal_height": N_("fundal height"),
}
URINE_PROTEIN = ("none", "+", "++", "+++", "++++")

register_nav(NavItem(N_("Worklist"), "/worklist", "worklist:read", order=20))
register_nav(NavItem(N_("Referrals"), "/referrals", "referral:receive", order=30))

#: referral kinds and statuses (``schemas.ReferralKind``, ``schemas.ReferralStatus``)
REFERRAL_KINDS = {"perinatal": N_("perinatal centre"), "screening": N_("screening centre")}
REFERRAL_STATUSES = {
    "sent": N_("sent"),
    "accepted": N_("accepted"),
    "seen": N_("seen"),
    "returned": N_("returned"),
    "declined": N_("declined"),
}
#: why a woman is on the worklist (``service.worklists``)
WORKLIST_REASONS = {
    "contact_due": N_("contact due"),
    "contact_overdue": N_("contact overdue"),
    "high_risk_no_referral": N_("high risk, no referral accepted"),
    "no_birth_place": N_("no planned place of birth"),
}

REGISTRATION_NUMBERS = ("gravida", "parity", "stillbirths", "miscarriages")
HISTORY_FLAGS = {
    "previous_caesarean": N_("previous caesarean section"),
    "previous_pre_eclampsia": N_("previous pre-eclampsia"),
    "previous_pph": N_("previous postpartum haemorrhage"),
    "previous_instrumental_birth": N_("previous instrumental birth"),
    "previous_convulsions": N_("previous convulsions"),
    "previous_severe_tear": N_("previous severe tear"),
    "multiple_pregnancy": N_("multiple pregnancy"),
}
CONTACT_NUMBERS = (
    "systolic_1",
    "diastolic_1",
    "systolic_2",
    "diastolic_2",
    "weight_kg",
    "temperature_c_1",
    "pulse_1",
    "fetal_heart_rate_1",
    "fundal_height_cm",
    "haemoglobin_g_l",
    "fasting_glucose_mmol_l",
)
CONTACT_FLAGS = {
    "ultrasound_done": N_("ultrasound done"),
    "hiv_test_done": N_("HIV test done"),
    "syphilis_test_done": N_("syphilis test done"),
}


# ---- helpers -------------------------------------------------------------------------


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        field = "ga_at_scan" if e.field == "ga_days_at_scan" else e.field
        out.setdefault(field, []).append(e.message)
    return out


def _validate(model: type[BaseModel], raw: dict[str, Any]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _or_none(value: str) -> str | None:
    return value or None


def _new_advice(items: list[AdviceOut], active: list[AdviceOut]) -> set[int]:
    """Ids of the active items the previous evaluation did not give."""
    retired = [a for a in items if not a.active]
    if not retired:
        return {a.id for a in active}
    last = max(a.created_at for a in retired)
    before = {(a.rule_id, a.code) for a in retired if a.created_at == last}
    return {a.id for a in active if (a.rule_id, a.code) not in before}


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="obstetric record")
    current = await service.current_pregnancy_of(session, principal, person_id)
    pregnancy: PregnancyDetail | None = None
    referrals: list[ReferralOut] = []
    new_advice: set[int] = set()
    saved = request.query_params.get("saved") == "1"
    if current is not None:
        pregnancy = await service.get_pregnancy(session, principal, current.id)
        if can(principal, "referral:read"):
            referrals = await service.list_referrals(session, principal, current.id)
        if saved:
            everything = await service.list_advice(session, principal, current.id, retired=True)
            new_advice = _new_advice(everything, pregnancy.advice)
    ctx: dict[str, Any] = {
        "person": person,
        "pregnancy": pregnancy,
        "saved": saved and pregnancy is not None,
        "new_advice": new_advice,
        "can_register": can(principal, "pregnancy:register")
        and pregnancy is None
        and person.sex == "female"
        and person.deceased_on is None
        and person.merged_into_id is None,
        "can_contact": can(principal, "pregnancy:contact") and pregnancy is not None,
        "danger_signs": DANGER_SIGNS,
        "symptoms": SYMPTOMS,
        "history_flags": HISTORY_FLAGS,
        "contact_flags": CONTACT_FLAGS,
        "dating_methods": DATING_METHODS,
        "urine_protein": URINE_PROTEIN,
        "today": date.today().isoformat(),
        "reg_form": {"gravida": "1", "parity": "0", "stillbirths": "0", "miscarriages": "0"},
        "reg_errors": {},
        "contact_form": {"on": date.today().isoformat()},
        "contact_errors": {},
        "referrals": referrals,
        "can_refer": can(principal, "referral:send") and pregnancy is not None,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "refer_form": {"kind": "perinatal"},
        "refer_errors": {},
        **(extra or {}),
    }
    return render(request, "maternal/record.html", ctx, status=status)


# ---- the record --------------------------------------------------------------------------


@web.get("/patients/{person_id}/pregnancy", response_class=HTMLResponse)
async def record(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> Response:
    """Her current pregnancy (or the form to register one), its contacts and advice."""
    return await _page(request, session, principal, person_id)


@web.post("/patients/{person_id}/pregnancy", response_class=HTMLResponse)
async def register(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """Register a pregnancy from the form; refused fields are shown beside themselves."""
    posted = await request.form()
    form = {
        name: _text(posted, name)
        for name in ("lmp", "scan_on", "ga_weeks", "ga_days", "conditions", *REGISTRATION_NUMBERS)
    }
    flags = {name: posted.get(name) == "1" for name in HISTORY_FLAGS}
    errors: list[FieldError] = []
    ga_days_at_scan: int | None = None
    if form["ga_weeks"] or form["ga_days"]:
        w, d = form["ga_weeks"] or "0", form["ga_days"] or "0"
        if w.isdigit() and d.isdigit() and int(d) <= 6:
            ga_days_at_scan = int(w) * 7 + int(d)
        else:
            errors.append(FieldError("ga_at_scan", "weeks (whole number) and days (0-6)"))
    raw: dict[str, Any] = {
        "lmp": _or_none(form["lmp"]),
        "scan_on": _or_none(form["scan_on"]),
        "ga_days_at_scan": ga_days_at_scan,
        "conditions": [c for c in form["conditions"].replace(",", " ").split() if c],
        **{n: form[n] or ("1" if n == "gravida" else "0") for n in REGISTRATION_NUMBERS},
        **flags,
    }
    try:
        if errors:
            raise Invalid.fields(errors)
        data = _validate(PregnancyIn, raw)
        await service.open_pregnancy(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "reg_form": {**form, **flags},
            "reg_errors": _errors_by_field(e.errors),
            "reg_error": e,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy")


@web.post("/patients/{person_id}/pregnancy/contacts", response_class=HTMLResponse)
async def contact(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
) -> Response:
    """Record a contact at the version the page was read (If-Match), then show the advice."""
    posted = await request.form()
    form: dict[str, Any] = {name: _text(posted, name) for name in ("on", *CONTACT_NUMBERS)}
    form["urine_protein"] = _text(posted, "urine_protein")
    form["danger_signs"] = [v for v in posted.getlist("danger_signs") if isinstance(v, str)]
    form["symptoms"] = [v for v in posted.getlist("symptoms") if isinstance(v, str)]
    flags = {name: posted.get(name) == "1" for name in CONTACT_FLAGS}
    raw: dict[str, Any] = {name: _or_none(form[name]) for name in ("on", *CONTACT_NUMBERS)}
    raw.update(
        urine_protein=_or_none(form["urine_protein"]),
        danger_signs=form["danger_signs"],
        symptoms=form["symptoms"],
        **flags,
    )
    pregnancy_id, version = _text(posted, "pregnancy_id"), _text(posted, "version")
    try:
        data = _validate(ContactIn, raw)
        current = await service.current_pregnancy_of(session, principal, person_id)
        if current is None or str(current.id) != pregnancy_id:
            raise Invalid.fields([FieldError("pregnancy_id", "not her current pregnancy")])
        await service.record_contact(
            session,
            principal,
            current.id,
            data,
            expected_version=int(version) if version.isdigit() else None,
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "contact_form": {**form, **flags},
            "contact_errors": _errors_by_field(e.errors),
            "contact_error": e,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?saved=1#advice")


# ---- referrals from the record ---------------------------------------------------------


@web.post("/patients/{person_id}/pregnancy/referrals", response_class=HTMLResponse)
async def refer(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> Response:
    """Refer her current pregnancy: to the facility named, else the nearest suitable one."""
    posted = await request.form()
    form = {name: _text(posted, name) for name in ("kind", "reason", "to_facility_code")}
    pregnancy_id = _text(posted, "pregnancy_id")
    try:
        data = _validate(
            ReferralIn,
            {
                "kind": form["kind"],
                "reason": form["reason"],
                "to_facility_code": _or_none(form["to_facility_code"]),
            },
        )
        current = await service.current_pregnancy_of(session, principal, person_id)
        if current is None or str(current.id) != pregnancy_id:
            raise Invalid.fields([FieldError("pregnancy_id", "not her current pregnancy")])
        await service.send_referral(session, principal, current.id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"refer_form": form, "refer_errors": _errors_by_field(e.errors), "refer_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?referred=1#referrals")


# ---- the worklist ----------------------------------------------------------------------


@web.get("/worklist", response_class=HTMLResponse)
async def worklist(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("worklist:read"))],
) -> Response:
    """The facility's antenatal worklist: who needs something done, and why."""
    rows = await service.antenatal_worklist(session, principal)
    people = {
        r.person_id: await registry.get_person(
            session, principal, r.person_id, purpose="antenatal worklist"
        )
        for r in rows
    }
    ctx = {"rows": rows, "people": people, "reasons": WORKLIST_REASONS, "risks": RISKS}
    return render(request, "maternal/worklist.html", ctx)


# ---- the referral inbox ----------------------------------------------------------------


async def _inbox(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    wanted = request.query_params.get("status") or None
    if wanted not in REFERRAL_STATUSES:
        wanted = None
    code = principal.facility_code
    if code is None and principal.facility_id is not None:
        code = (await registry.get_facility(session, principal.facility_id)).code
    items = await service.inbox(session, principal, code or "", status=wanted)
    ctx: dict[str, Any] = {
        "items": items,
        "wanted": wanted,
        "facility_code": code,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "error_id": None,
        **(extra or {}),
    }
    return render(request, "maternal/inbox.html", ctx, status=status)


@web.get("/referrals", response_class=HTMLResponse)
async def referrals_inbox(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
) -> Response:
    """Referrals to the user's facility, oldest first; ``?status=`` filters."""
    return await _inbox(request, session, principal)


#: inbox button -> the service call
_ACTIONS = ("accept", "seen", "return", "decline")


@web.post("/referrals/{referral_id}/{action}", response_class=HTMLResponse)
async def act_on_referral(
    request: Request,
    session: DbSession,
    referral_id: int,
    action: str,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
) -> Response:
    """Accept, mark seen, return with a conclusion or decline, at the version shown."""
    posted = await request.form()
    version = _text(posted, "version")
    expected = int(version) if version.isdigit() else None
    conclusion = _or_none(_text(posted, "conclusion"))
    back = _text(posted, "back_status")
    back = back if back in REFERRAL_STATUSES else ""
    try:
        if action == "accept":
            await service.accept_referral(
                session, principal, referral_id, expected_version=expected
            )
        elif action == "seen":
            await service.mark_seen(session, principal, referral_id, expected_version=expected)
        elif action in ("return", "decline"):
            data = _validate(ReferralUpdateIn, {"conclusion": conclusion})
            move = service.return_referral if action == "return" else service.decline_referral
            await move(session, principal, referral_id, data, expected_version=expected)
        else:
            raise Invalid.fields([FieldError("action", f"one of {', '.join(_ACTIONS)}")])
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "error": e,
            "error_id": referral_id,
            "errors": _errors_by_field(e.errors),
            "conclusion": conclusion or "",
        }
        return await _inbox(request, session, principal, extra, e.status)
    return redirect("/referrals" + (f"?status={back}" if back else "") + f"#referral-{referral_id}")
