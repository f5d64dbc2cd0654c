"""The obstetric record in the browser: a woman's current pregnancy, its contacts and advice.

Plain HTML forms (they work without JavaScript). A refused form is shown
again with each message beside its field and a 4xx status, so the unit of
work rolls back and nothing is stored. The contact form carries the version
the page was read at (the REST API's If-Match), so a contact recorded by
someone else in the meantime is not silently overtaken.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import (
    FieldError,
    Invalid,
    NotFound,
    SalomatError,
)
from salomat.core.pagination import PageParams
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import (
    AdviceOut,
    BirthIn,
    BirthOut,
    CloseIn,
    ContactIn,
    DiagnosisResolveIn,
    PostnatalContactIn,
    PostnatalContactOut,
    PregnancyDetail,
    PregnancyIn,
    PregnancyOut,
    ReferralCancelIn,
    ReferralIn,
    ReferralOut,
    ReferralUpdateIn,
)
from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.birth import POSTNATAL_DAYS
from salomat.domains.registry import service as registry
from salomat.ui import forms
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

register_nav(NavItem(N_("Antenatal worklist"), "/worklist", "worklist:read", order=20))
register_nav(NavItem(N_("Referrals"), "/referrals", "referral:receive", order=30))

#: referral kinds and statuses (``schemas.ReferralKind``, ``schemas.ReferralStatus``)
REFERRAL_KINDS = {"perinatal": N_("perinatal centre"), "screening": N_("screening centre")}
REFERRAL_STATUSES = {
    "sent": N_("sent"),
    "accepted": N_("accepted"),
    "seen": N_("seen"),
    "returned": N_("returned"),
    "declined": N_("declined"),
    "cancelled": N_("cancelled"),
}
#: why a woman is on the worklist (``service.worklists``)
WORKLIST_REASONS = {
    "contact_due": N_("contact due"),
    "contact_overdue": N_("contact overdue"),
    "high_risk_no_referral": N_("high risk, no referral accepted"),
    "no_birth_place": N_("no planned place of birth"),
}

#: the standing diagnoses and findings (``service.standing``), by advice code
DIAGNOSIS_LABELS = {
    "hypertension": N_("hypertension"),
    "severe_hypertension": N_("severe hypertension"),
    "pre_eclampsia": N_("pre-eclampsia"),
    "severe_pre_eclampsia": N_("severe pre-eclampsia"),
    "gestational_diabetes": N_("gestational diabetes"),
    "diabetes_in_pregnancy": N_("diabetes in pregnancy"),
    "anaemia": N_("anaemia"),
    "moderate_anaemia": N_("moderate anaemia"),
    "severe_anaemia": N_("severe anaemia"),
    "danger_signs": N_("danger signs"),
    "fever": N_("fever"),
    "abnormal_pulse": N_("abnormal pulse"),
    "low_oxygen_saturation": N_("low oxygen saturation"),
    "no_fetal_heartbeat": N_("no fetal heartbeat"),
    "abnormal_fetal_heart_rate": N_("abnormal fetal heart rate"),
}
#: the values a standing diagnosis was made on (``diagnostic_rules`` and DT.01/DT.06)
DIAGNOSIS_VALUES = {
    "systolic": N_("systolic, mmHg"),
    "diastolic": N_("diastolic, mmHg"),
    "urine_protein": N_("urine protein"),
    "symptoms": N_("symptoms"),
    "danger_signs": N_("danger signs"),
    "haemoglobin_g_l": N_("haemoglobin, g/L"),
    "pallor": N_("pallor"),
    "ga_days": N_("gestational age, days"),
    "fasting_glucose_mmol_l": N_("fasting glucose, mmol/L"),
    "ogtt_1h_mmol_l": N_("OGTT 1 h, mmol/L"),
    "ogtt_2h_mmol_l": N_("OGTT 2 h, mmol/L"),
    "random_glucose_mmol_l": N_("random glucose, mmol/L"),
    "temperature_c": N_("temperature, °C"),
    "pulse": N_("pulse, /min"),
    "spo2": N_("oxygen saturation, per cent"),
    "fetal_heart_rate": N_("fetal heart rate, /min"),
    "fetal_heartbeat_absent": N_("no fetal heartbeat"),
}
#: why a clinician resolves one (``schemas.Resolution``)
RESOLUTIONS = {
    "resolved": N_("resolved"),
    "ruled_out": N_("ruled out"),
    "entered_in_error": N_("entered in error"),
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

#: how a pregnancy ends (``schemas.Outcome``)
OUTCOMES = {
    "live_birth": N_("live birth"),
    "stillbirth": N_("stillbirth"),
    "miscarriage": N_("miscarriage"),
    "termination": N_("termination"),
    "maternal_death": N_("maternal death"),
}
#: the outcomes the close form offers: a birth has its own page, and a maternal death is
#: registered as a death in the registry, which closes the pregnancy (``close_at_death``)
CLOSE_OUTCOMES = ("miscarriage", "termination")
#: ``schemas.BirthMode``
BIRTH_MODES = {
    "spontaneous_vaginal": N_("spontaneous vaginal"),
    "vaginal_breech": N_("vaginal breech"),
    "vacuum": N_("vacuum extraction"),
    "forceps": N_("forceps"),
    "caesarean_elective": N_("elective caesarean section"),
    "caesarean_emergency": N_("emergency caesarean section"),
}
BABY_OUTCOMES = {"live": N_("live-born"), "stillbirth": N_("stillborn")}
STILLBIRTH_TYPES = {"fresh": N_("fresh"), "macerated": N_("macerated")}
SEXES = {"female": N_("female"), "male": N_("male")}
BABY_TEXTS = ("given_name", "patronymic")
BABY_NUMBERS = ("birth_weight_g", "length_cm", "apgar_1", "apgar_5")
#: the most babies ``BirthIn`` takes
MAX_BABIES = 8
#: the mother's danger signs after birth (a subset of DT.01's vocabulary)
POSTNATAL_SIGNS = (
    "vaginal_bleeding",
    "convulsions",
    "fever",
    "severe_headache",
    "visual_disturbance",
    "severe_abdominal_pain",
    "unconscious",
    "looks_very_ill",
)
#: a newborn's danger signs (WHO postnatal care of the newborn)
BABY_SIGNS = {
    "not_feeding_well": N_("not feeding well"),
    "convulsions": N_("convulsions"),
    "fast_breathing": N_("fast breathing"),
    "severe_chest_indrawing": N_("severe chest indrawing"),
    "no_spontaneous_movement": N_("no spontaneous movement"),
    "fever": N_("fever"),
    "low_temperature": N_("low body temperature"),
    "jaundice": N_("jaundice"),
}
#: ``PostnatalContactIn.bleeding``
BLEEDING = {"normal": N_("normal"), "heavy": N_("heavy")}
POSTNATAL_NUMBERS = (
    "systolic",
    "diastolic",
    "temperature_c",
    "pulse",
    "baby_weight_g",
    "baby_temperature_c",
)


# ---- helpers -------------------------------------------------------------------------


def _errors_of(errors: list[FieldError]) -> dict[str, list[str]]:
    return forms.errors_by_field(errors, {"ga_days_at_scan": "ga_at_scan"})


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
        "resolved": request.query_params.get("resolved") == "1" and pregnancy is not None,
        "new_advice": new_advice,
        "diagnosis_labels": DIAGNOSIS_LABELS,
        "diagnosis_values": DIAGNOSIS_VALUES,
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


async def _last_birth(
    session: DbSession, principal: Principal, person_id: int
) -> tuple[PregnancyOut | None, BirthOut | None]:
    """Her latest pregnancy (when none is current) and its birth record, if one was recorded."""
    pregnancies = await service.list_pregnancies(session, principal, person_id)
    if not pregnancies:
        return None, None
    last = max(pregnancies, key=lambda p: (p.closed_on or date.min, p.id))
    if last.outcome not in ("live_birth", "stillbirth"):
        return last, None
    try:
        return last, await service.get_birth(session, principal, last.id)
    except NotFound:  # closed through the API with a birth outcome but no birth record
        return last, None


def _birth_ctx(birth: BirthOut | None) -> dict[str, Any]:
    """What the birth summary (``_birth.html``) needs."""
    return {
        "birth": birth,
        "birth_modes": BIRTH_MODES,
        "baby_outcomes": BABY_OUTCOMES,
        "stillbirth_types": STILLBIRTH_TYPES,
        "sexes": SEXES,
    }


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
    errors: list[FieldError] = []
    ga_days_at_scan: int | None = None
    if form["ga_weeks"] or form["ga_days"]:
        w, d = form["ga_weeks"] or "0", form["ga_days"] or "0"
        if _number(w) is not None and (dd := _number(d)) is not None and dd <= 6:
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
        data = forms.validate(PregnancyIn, raw)
        await service.open_pregnancy(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "reg_form": {**form, **flags},
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
            raise Invalid.fields([FieldError("pregnancy_id", "not her current pregnancy")])
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


# ---- referrals from the record ---------------------------------------------------------


@web.post("/patients/{person_id}/pregnancy/referrals", response_class=HTMLResponse)
async def refer(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> Response:
    """Refer her current pregnancy: to the facility named, else the nearest suitable one."""
    posted = await request.form()
    form = {name: forms.text(posted, name) for name in ("kind", "reason", "to_facility_code")}
    pregnancy_id = forms.text(posted, "pregnancy_id")
    try:
        data = forms.validate(
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
        extra = {"refer_form": form, "refer_errors": _errors_of(e.errors), "refer_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?referred=1#referrals")


@web.post(
    "/patients/{person_id}/pregnancy/referrals/{referral_id}/cancel",
    response_class=HTMLResponse,
)
async def cancel_referral(
    request: Request,
    session: DbSession,
    person_id: RowId,
    referral_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> Response:
    """The sending facility cancels a sent or accepted referral, with a reason."""
    posted = await request.form()
    version = forms.text(posted, "version")
    reason = forms.text(posted, "reason")
    try:
        data = forms.validate(ReferralCancelIn, {"reason": _or_none(reason)})
        await service.cancel_referral(
            session,
            principal,
            referral_id,
            data,
            expected_version=parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "cancel_error": e,
            "cancel_error_id": referral_id,
            "cancel_errors": _errors_of(e.errors),
            "cancel_reason": reason,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?cancelled=1#referrals")


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


# ---- closing, the birth and after -------------------------------------------------------


def _number(text: str) -> int | None:
    """A small whole number typed in a form (weeks, days, rows), 0 included: ASCII digits
    only ("²".isdigit() is true, and int("²") raises), at most 4 of them; else None."""
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) else None


def _version(posted: Any) -> int | None:
    return parse_version(forms.text(posted, "version"))


async def _current_of(
    session: DbSession, principal: Principal, person_id: int, pregnancy_id: str
) -> PregnancyOut:
    """Her current pregnancy, which must be the one the form was read for."""
    current = await service.current_pregnancy_of(session, principal, person_id)
    if current is None or str(current.id) != pregnancy_id:
        raise Invalid.fields([FieldError("pregnancy_id", "not her current pregnancy")])
    return current


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
                [FieldError("outcome", f"one of {', '.join(CLOSE_OUTCOMES)} (a birth: its page)")]
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


def _ga_text(days: int) -> tuple[str, str]:
    return str(days // 7), str(days % 7)


def _baby_names(i: int) -> list[str]:
    at = f"babies.{i}."
    return [at + f for f in ("outcome", "stillbirth_type", "sex", *BABY_TEXTS, *BABY_NUMBERS)]


async def _birth_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    form: dict[str, str] | None = None,
    rows: int | None = None,
    error: SalomatError | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="birth record")
    current = await service.current_pregnancy_of(session, principal, person_id)
    if form is None:
        form = {"born_on": date.today().isoformat(), "mode": "spontaneous_vaginal"}
        if current is not None:
            form["ga_w"], form["ga_d"] = _ga_text(current.ga_days)
    if rows is None:
        rows = 2 if current is not None and current.multiple_pregnancy else 1
    for i in range(rows):
        form.setdefault(f"babies.{i}.outcome", "live")
    errors = _errors_of(error.errors) if error else {}
    placed: set[str] = set()
    if current is not None:  # else the form is not shown and every message goes on top
        placed = {"born_on", "mode", "ga_days", "pregnancy_id", "babies"}
        placed.update(name for i in range(rows) for name in _baby_names(i))
    ctx: dict[str, Any] = {
        "person": person,
        "pregnancy": current,
        "form": form,
        "rows": rows,
        "max_babies": MAX_BABIES,
        "errors": errors,
        "error": error,
        "other_errors": {k: v for k, v in errors.items() if k not in placed},
        "birth_modes": BIRTH_MODES,
        "baby_outcomes": BABY_OUTCOMES,
        "stillbirth_types": STILLBIRTH_TYPES,
        "sexes": SEXES,
        "today": date.today().isoformat(),
    }
    return render(request, "maternal/birth.html", ctx, status=status)


@web.get("/patients/{person_id}/pregnancy/birth", response_class=HTMLResponse)
async def birth_form(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """The birth form for her current pregnancy (``?babies=`` rows; twins by default when
    the pregnancy is multiple); without a current pregnancy, back to the record."""
    await registry.get_person(session, principal, person_id, purpose="birth record")
    if await service.current_pregnancy_of(session, principal, person_id) is None:
        return redirect(f"/patients/{person_id}/pregnancy")
    wanted = request.query_params.get("babies", "")
    rows = min(n, MAX_BABIES) if (n := _number(wanted)) else None
    return await _birth_page(request, session, principal, person_id, rows=rows)


@web.post("/patients/{person_id}/pregnancy/birth", response_class=HTMLResponse)
async def birth(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """Record the birth at the version shown; "add a baby" / "remove" only redraw the form.

    The gestational age is sent only when it was changed from the one the page
    prefilled from the dating; otherwise the service computes it for the birth date.
    """
    posted = await request.form()
    count = forms.text(posted, "count")
    rows = min(max(n, 1), MAX_BABIES) if (n := _number(count)) is not None else 1
    names = ["born_on", "mode", "ga_w", "ga_d", "ga_dated"]
    names += [name for i in range(rows) for name in _baby_names(i)]
    form = {name: forms.text(posted, name) for name in names}
    wanted = forms.text(posted, "rows")
    if _number(wanted) is not None:  # a button that changes the number of rows, not a submit
        rows = min(max(int(wanted), 1), MAX_BABIES)
        return await _birth_page(request, session, principal, person_id, form, rows)
    errors: list[FieldError] = []
    ga_days: int | None = None
    w, d = form["ga_w"], form["ga_d"]
    if w or d:
        w, d = w or "0", d or "0"
        if _number(w) is not None and (dd := _number(d)) is not None and dd <= 6:
            ga_days = int(w) * 7 + int(d)
            if str(ga_days) == form["ga_dated"]:
                ga_days = None  # as dated: computed for the birth date
        else:
            errors.append(FieldError("ga_days", "weeks (whole number) and days (0-6)"))
    babies = []
    for i in range(rows):
        at = f"babies.{i}."
        baby: dict[str, Any] = {"outcome": form[at + "outcome"]}
        for field in ("stillbirth_type", "sex", *BABY_TEXTS, *BABY_NUMBERS):
            baby[field] = _or_none(form[at + field])
        babies.append(baby)
    raw = {
        "born_on": _or_none(form["born_on"]),
        "mode": form["mode"],
        "ga_days": ga_days,
        "babies": babies,
    }
    try:
        if errors:
            raise Invalid.fields(errors)
        data = forms.validate(BirthIn, raw)
        current = await _current_of(
            session, principal, person_id, forms.text(posted, "pregnancy_id")
        )
        await service.record_birth(
            session, principal, current.id, data, expected_version=_version(posted)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        return await _birth_page(request, session, principal, person_id, form, rows, e, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?born=1#birth")


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
            raise Invalid.fields([FieldError("pregnancy_id", "not her latest birth")])
        await service.record_postnatal_contact(session, principal, born.pregnancy_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"pn_form": form, "pn_errors": _errors_of(e.errors), "pn_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?postnatal=1#postnatal")


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
    referral_id: RowId,
    action: str,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
) -> Response:
    """Accept, mark seen, return with a conclusion or decline, at the version shown."""
    posted = await request.form()
    version = forms.text(posted, "version")
    expected = parse_version(version)
    conclusion = _or_none(forms.text(posted, "conclusion"))
    back = forms.text(posted, "back_status")
    back = back if back in REFERRAL_STATUSES else ""
    try:
        if action == "accept":
            await service.accept_referral(
                session, principal, referral_id, expected_version=expected
            )
        elif action == "seen":
            await service.mark_seen(session, principal, referral_id, expected_version=expected)
        elif action in ("return", "decline"):
            data = forms.validate(ReferralUpdateIn, {"conclusion": conclusion})
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
            "errors": _errors_of(e.errors),
            "conclusion": conclusion or "",
        }
        return await _inbox(request, session, principal, extra, e.status)
    return redirect("/referrals" + (f"?status={back}" if back else "") + f"#referral-{referral_id}")


# ---- the monitoring dashboard ------------------------------------------------------------

register_nav(
    NavItem(N_("Maternal monitoring"), "/dashboard/maternal", "maternal_dashboard:read", order=40)
)


def _dashboard_query(request: Request) -> tuple[str | None, date | None, date | None, list]:
    """The area and the period from the query string; a malformed date is named."""
    q = request.query_params
    area = (q.get("area") or "").strip() or None
    errors: list[FieldError] = []
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        raw = (q.get(key) or "").strip()
        try:
            days[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors.append(FieldError(key, f"{raw!r} is not a date (YYYY-MM-DD)"))
            days[key] = None
    if area is not None and len(area) > 32:
        errors.append(FieldError("area", "is longer than 32 characters"))
    return area, days["from"], days["to"], errors


async def _areas(session: DbSession) -> tuple[list[Any], dict[str, list[Any]]]:
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    districts: dict[str, list[Any]] = {}
    for d in (await registry.list_territory(session, PageParams(500, 0), level="district")).items:
        districts.setdefault(d.parent_code or "", []).append(d)
    return regions, districts


@web.get("/dashboard/maternal", response_class=HTMLResponse)
async def maternal_dashboard(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("maternal_dashboard:read"))],
) -> Response:
    """Region and district figures with charts; each unit links to its own breakdown."""
    area, start, end, errors = _dashboard_query(request)
    regions, districts = await _areas(session)
    ctx: dict[str, Any] = {
        "area": area,
        "period_from": start,
        "period_to": end,
        "regions": regions,
        "districts": districts,
        "d": None,
        "errors": errors,
        "query": request.url.query,
    }
    if errors:
        return render(request, "maternal/dashboard.html", ctx, status=422)
    try:
        ctx["d"] = await service.maternal_dashboard(
            session, principal, area=area, period_from=start, period_to=end
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "maternal/dashboard.html", ctx, status=e.status)
    ctx["period_from"], ctx["period_to"] = ctx["d"].period_from, ctx["d"].period_to
    return render(request, "maternal/dashboard.html", ctx)


@web.get("/dashboard/maternal.csv")
async def maternal_dashboard_csv(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("maternal_dashboard:read"))],
) -> Response:
    """The dashboard's figures as CSV (the same as the REST API's)."""
    area, start, end, errors = _dashboard_query(request)
    if errors:
        raise Invalid.fields(errors)
    d = await service.maternal_dashboard(
        session, principal, area=area, period_from=start, period_to=end
    )
    return csv_download(service.dashboard_csv(d))
