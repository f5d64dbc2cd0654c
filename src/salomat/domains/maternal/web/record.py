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

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.core.user_names import user_names
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import (
    AdviceOut,
    BirthOut,
    CloseIn,
    ContactIn,
    DiagnosisResolveIn,
    PostnatalContactIn,
    PostnatalContactOut,
    PregnancyDetail,
    PregnancyIn,
    PregnancyOut,
    ReferralOut,
)
from salomat.domains.maternal.service.birth import POSTNATAL_DAYS
from salomat.domains.maternal.service.codes import CONDITIONS
from salomat.domains.maternal.web import advice_labels
from salomat.domains.maternal.web.common import (
    _birth_ctx,
    _current_of,
    _errors_of,
    _last_birth,
    _number,
    _or_none,
    _version,
    web,
)
from salomat.domains.maternal.web.labels import (
    BABY_SIGNS,
    BLEEDING,
    CLOSE_OUTCOMES,
    CONTACT_FLAGS,
    CONTACT_NUMBERS,
    DANGER_SIGNS,
    DATING_METHODS,
    DIAGNOSIS_LABELS,
    DIAGNOSIS_VALUES,
    HISTORY_FLAGS,
    OUTCOMES,
    POSTNATAL_NUMBERS,
    POSTNATAL_SIGNS,
    REFERRAL_KINDS,
    REFERRAL_STATUSES,
    REGISTRATION_NUMBERS,
    RESOLUTIONS,
    SYMPTOMS,
    URGENCY_LABELS,
    URINE_PROTEIN,
)
from salomat.domains.registry import service as registry
from salomat.ui import forms
from salomat.ui.templating import can, redirect, render


def _new_advice(items: list[AdviceOut], active: list[AdviceOut]) -> set[int]:
    """Ids of the active items the previous evaluation did not give."""
    retired = [a for a in items if not a.active]
    if not retired:
        return {a.id for a in active}
    last = max(a.created_at for a in retired)
    before = {(a.rule_id, a.code) for a in retired if a.created_at == last}
    return {a.id for a in active if (a.rule_id, a.code) not in before}


async def _external_facilities(session: DbSession, advice: list[AdviceOut]) -> dict[int, str]:
    """The names (in the page's language) of the facilities that sent the readings an
    advice item names (``details.external``)."""
    ids = {
        e["facility_id"]
        for a in advice
        for e in a.details.get("external") or []
        if isinstance(e, dict) and isinstance(e.get("facility_id"), int)
    }
    lang = i18n.current_language()
    return {
        fid: f.names.get(lang) or f.name
        for fid, f in (await registry.facility_names(session, ids)).items()
    }


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
    last: PregnancyOut | None = None
    birth: BirthOut | None = None
    postnatal: list[PostnatalContactOut] = []
    if current is None:
        last, birth = await _last_birth(session, principal, person_id)
        if birth is not None:
            postnatal = await service.list_postnatal_contacts(
                session, principal, birth.pregnancy_id
            )
    referrals: list[ReferralOut] = []
    places: dict[int, Any] = {}
    senders: dict[str, str] = {}
    new_advice: set[int] = set()
    external_from: dict[int, str] = {}
    saved = request.query_params.get("saved") == "1"
    if current is not None:
        pregnancy = await service.get_pregnancy(session, principal, current.id)
        if can(principal, "referral:read"):
            referrals = await service.list_referrals(session, principal, current.id)
            for r in referrals:
                if r.to_facility_id not in places:
                    places[r.to_facility_id] = await registry.get_facility(
                        session, r.to_facility_id
                    )
            senders = await user_names(session, (r.sent_by for r in referrals))
        if saved:
            everything = await service.list_advice(session, principal, current.id, retired=True)
            new_advice = _new_advice(everything, pregnancy.advice)
        external_from = await _external_facilities(session, pregnancy.advice)
    ctx: dict[str, Any] = {
        "person": person,
        "pregnancy": pregnancy,
        "saved": saved and pregnancy is not None,
        "resolved": request.query_params.get("resolved") == "1" and pregnancy is not None,
        "new_advice": new_advice,
        "external_from": external_from,
        "diagnosis_labels": DIAGNOSIS_LABELS,
        "diagnosis_values": DIAGNOSIS_VALUES,
        "advice_actions": advice_labels.ACTIONS,
        "advice_values": advice_labels.VALUES,
        "value_labels": {**advice_labels.VALUE_CODES, **DANGER_SIGNS, **SYMPTOMS},
        "basis": advice_labels.basis,
        "urgencies": URGENCY_LABELS,
        "value_codes": {**DANGER_SIGNS, **SYMPTOMS},
        "resolutions": RESOLUTIONS,
        "can_diagnose": can(principal, "pregnancy:diagnose") and pregnancy is not None,
        "resolve_form": {},
        "resolve_errors": {},
        "can_register": can(principal, "pregnancy:register")
        and pregnancy is None
        and person.sex == "female"
        and person.deceased_on is None
        and person.merged_into_id is None,
        "can_contact": can(principal, "pregnancy:contact") and pregnancy is not None,
        "danger_signs": DANGER_SIGNS,
        "symptoms": SYMPTOMS,
        "history_flags": HISTORY_FLAGS,
        "chronic_conditions": CONDITIONS,
        "contact_flags": CONTACT_FLAGS,
        "dating_methods": DATING_METHODS,
        "urine_protein": URINE_PROTEIN,
        "today": date.today().isoformat(),
        "reg_form": {"gravida": "1", "parity": "0", "stillbirths": "0", "miscarriages": "0"},
        "reg_errors": {},
        "contact_form": {"on": date.today().isoformat()},
        "contact_errors": {},
        "referrals": referrals,
        "places": places,
        "senders": senders,
        "can_refer": can(principal, "referral:send") and pregnancy is not None,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "refer_form": {"kind": "perinatal"},
        "refer_errors": {},
        "outcomes": OUTCOMES,
        "close_outcomes": CLOSE_OUTCOMES,
        "can_close": can(principal, "pregnancy:register") and pregnancy is not None,
        "close_form": {"closed_on": date.today().isoformat()},
        "close_errors": {},
        "last": last,
        "born": request.query_params.get("born") == "1" and birth is not None,
        **_birth_ctx(birth),
        "postnatal": postnatal,
        "can_postnatal": can(principal, "pregnancy:contact")
        and birth is not None
        and (date.today() - birth.born_on).days <= POSTNATAL_DAYS,
        "postnatal_signs": {code: DANGER_SIGNS[code] for code in POSTNATAL_SIGNS},
        "baby_signs": BABY_SIGNS,
        "bleeding": BLEEDING,
        "pn_form": {"on": date.today().isoformat()},
        "pn_errors": {},
        **(extra or {}),
    }
    return render(request, "maternal/record.html", ctx, status=status)


# ---- the record --------------------------------------------------------------------------


@web.get("/patients/{person_id}/pregnancy", response_class=HTMLResponse)
async def record(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> Response:
    """Her current pregnancy (or the form to register one), its contacts and advice."""
    return await _page(request, session, principal, person_id)


@web.post("/patients/{person_id}/pregnancy", response_class=HTMLResponse)
async def register(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """Register a pregnancy from the form; refused fields are shown beside themselves."""
    posted = await request.form()
    form = {
        name: forms.text(posted, name)
        for name in ("lmp", "scan_on", "ga_weeks", "ga_days", "conditions", *REGISTRATION_NUMBERS)
    }
    flags = {name: posted.get(name) == "1" for name in HISTORY_FLAGS}
    ticked = [c for c in forms.texts(posted, "condition") if c in CONDITIONS]
    errors: list[FieldError] = []
    ga_days_at_scan: int | None = None
    if form["ga_weeks"] or form["ga_days"]:
        w, d = form["ga_weeks"] or "0", form["ga_days"] or "0"
        if _number(w) is not None and (dd := _number(d)) is not None and dd <= 6:
            ga_days_at_scan = int(w) * 7 + int(d)
        else:
            errors.append(FieldError("ga_at_scan", N_("weeks (whole number) and days (0-6)")))
    raw: dict[str, Any] = {
        "lmp": _or_none(form["lmp"]),
        "scan_on": _or_none(form["scan_on"]),
        "ga_days_at_scan": ga_days_at_scan,
        # the known conditions ticked (by their names), then any other codes typed
        "conditions": list(
            dict.fromkeys(ticked + [c for c in form["conditions"].replace(",", " ").split() if c])
        ),
        **{n: form[n] or ("1" if n == "gravida" else "0") for n in REGISTRATION_NUMBERS},
        **flags,
    }
    try:
        if errors:
            raise Invalid.fields(errors)
        data = forms.validate(PregnancyIn, raw)
        await service.open_pregnancy(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "reg_form": {**form, **flags, "condition": ticked},
            "reg_errors": _errors_of(e.errors),
            "reg_error": e,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy")


@web.post("/patients/{person_id}/pregnancy/contacts", response_class=HTMLResponse)
async def contact(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
) -> Response:
    """Record a contact at the version the page was read (If-Match), then show the advice."""
    posted = await request.form()
    form: dict[str, Any] = {name: forms.text(posted, name) for name in ("on", *CONTACT_NUMBERS)}
    form["urine_protein"] = forms.text(posted, "urine_protein")
    form["danger_signs"] = forms.texts(posted, "danger_signs")
    form["symptoms"] = forms.texts(posted, "symptoms")
    flags = {name: posted.get(name) == "1" for name in CONTACT_FLAGS}
    raw: dict[str, Any] = {name: _or_none(form[name]) for name in ("on", *CONTACT_NUMBERS)}
    raw.update(
        urine_protein=_or_none(form["urine_protein"]),
        danger_signs=form["danger_signs"],
        symptoms=form["symptoms"],
        **flags,
    )
    pregnancy_id, version = forms.text(posted, "pregnancy_id"), forms.text(posted, "version")
    try:
        data = forms.validate(ContactIn, raw)
        current = await service.current_pregnancy_of(session, principal, person_id)
        if current is None or str(current.id) != pregnancy_id:
            raise Invalid.fields([FieldError("pregnancy_id", N_("not her current pregnancy"))])
        await service.record_contact(
            session,
            principal,
            current.id,
            data,
            expected_version=parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "contact_form": {**form, **flags},
            "contact_errors": _errors_of(e.errors),
            "contact_error": e,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?saved=1#advice")


@web.post(
    "/patients/{person_id}/pregnancy/diagnoses/{diagnosis_id}/resolve",
    response_class=HTMLResponse,
)
async def resolve_diagnosis(
    request: Request,
    session: DbSession,
    person_id: RowId,
    diagnosis_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:diagnose"))],
) -> Response:
    """A clinician resolves a standing diagnosis with a reason (If-Match by the version)."""
    posted = await request.form()
    form = {name: forms.text(posted, name) for name in ("reason", "note")}
    try:
        data = forms.validate(
            DiagnosisResolveIn, {"reason": form["reason"], "note": _or_none(form["note"])}
        )
        current = await _current_of(
            session, principal, person_id, forms.text(posted, "pregnancy_id")
        )
        await service.resolve_diagnosis(
            session, principal, current.id, diagnosis_id, data, expected_version=_version(posted)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "resolve_error": e,
            "resolve_error_id": diagnosis_id,
            "resolve_errors": _errors_of(e.errors),
            "resolve_form": form,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?resolved=1#diagnoses")


@web.post("/patients/{person_id}/pregnancy/close", response_class=HTMLResponse)
async def close(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """Close her current pregnancy without a birth (miscarriage, termination), If-Match."""
    posted = await request.form()
    form = {name: forms.text(posted, name) for name in ("outcome", "closed_on")}
    try:
        if form["outcome"] not in CLOSE_OUTCOMES:
            raise Invalid.fields(
                [
                    FieldError(
                        "outcome", N_("a miscarriage or a termination (a birth: its own page)")
                    )
                ]
            )
        data = forms.validate(
            CloseIn, {"outcome": form["outcome"], "closed_on": _or_none(form["closed_on"])}
        )
        current = await _current_of(
            session, principal, person_id, forms.text(posted, "pregnancy_id")
        )
        await service.close_pregnancy(
            session, principal, current.id, data, expected_version=_version(posted)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"close_form": form, "close_errors": _errors_of(e.errors), "close_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?closed=1")


@web.post("/patients/{person_id}/pregnancy/postnatal", response_class=HTMLResponse)
async def postnatal_contact(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
) -> Response:
    """A postnatal contact after her latest birth: her checks and, optionally, one baby's."""
    posted = await request.form()
    names = ("on", *POSTNATAL_NUMBERS, "bleeding", "baby_person_id", "breastfeeding")
    form: dict[str, Any] = {name: forms.text(posted, name) for name in names}
    form["danger_signs"] = forms.texts(posted, "danger_signs")
    form["baby_danger_signs"] = forms.texts(posted, "baby_danger_signs")
    raw: dict[str, Any] = {
        name: _or_none(form[name]) for name in ("on", *POSTNATAL_NUMBERS, "bleeding")
    }
    raw.update(
        baby_person_id=_or_none(form["baby_person_id"]),
        breastfeeding={"yes": True, "no": False}.get(form["breastfeeding"]),
        danger_signs=form["danger_signs"],
        baby_danger_signs=form["baby_danger_signs"],
    )
    try:
        data = forms.validate(PostnatalContactIn, raw)
        _, born = await _last_birth(session, principal, person_id)
        if born is None or str(born.pregnancy_id) != forms.text(posted, "pregnancy_id"):
            raise Invalid.fields([FieldError("pregnancy_id", N_("not her latest birth"))])
        await service.record_postnatal_contact(session, principal, born.pregnancy_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"pn_form": form, "pn_errors": _errors_of(e.errors), "pn_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?postnatal=1#postnatal")
