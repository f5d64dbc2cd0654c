"""Screening and DMP rules against the note's vectors (../shared/domain/screening-dmp.md):
vector 2 (glucose control), vector 4 (due dates: who is invited), the exclusion of people
under dynamic observation, boundaries one below / at / one above, and the refusals that
name their field. Kazakh pack (``kz``) where the vectors' programmes are Kazakh."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.errors import Conflict, Invalid, NotFound
from salomat.domains.screening import service
from salomat.domains.screening.schemas import (
    DmpVisitIn,
    EnrolmentEndIn,
    EnrolmentIn,
    MeasurementIn,
    ScreeningVisitIn,
)

pytestmark = pytest.mark.anyio


def _errors(exc: pytest.ExceptionInfo[Invalid]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


async def _screen(scr, person_id, programme, on, **kw):  # type: ignore[no-untyped-def]
    data = ScreeningVisitIn(
        programme=programme, performed_on=on, result=kw.pop("result", "normal"), **kw
    )
    v = await service.record_screening(scr.db, scr.principal(), person_id, data)
    await scr.db.commit()
    return v


async def _invited(scr, programme, on):  # type: ignore[no-untyped-def]
    w = await service.invitation_worklist(scr.db, scr.principal(), on, programme=programme)
    await scr.db.commit()
    return {r.person_id for r in w.invitations}


# ---- vector 4: due dates ------------------------------------------------------------


def test_vector_4_due_dates_pure():
    rules = service.screening_rules("KZ")
    cervix = rules.programme("cervical", date(2025, 6, 10))
    breast = rules.programme("breast", date(2025, 11, 2))
    assert cervix.due_on(date(2021, 6, 10)) == date(2025, 6, 10)
    e = service.eligibility(
        cervix, sex="female", birth=date(1990, 5, 10), deceased_on=None,
        day=date(2025, 6, 10), last_on=date(2021, 6, 10), under_dmp=set(),
    )  # fmt: skip
    assert e.in_group
    assert e.due_on == date(2025, 6, 10)
    assert service.age_on(date(1990, 5, 10), date(2025, 6, 10)) == 35
    e = service.eligibility(
        breast, sex="female", birth=date(1955, 2, 1), deceased_on=None,
        day=date(2025, 11, 2), last_on=date(2023, 11, 2), under_dmp=set(),
    )  # fmt: skip
    assert e.in_group
    assert e.due_on == date(2025, 11, 2)
    e = service.eligibility(
        breast, sex="female", birth=date(1955, 2, 1), deceased_on=None,
        day=date(2026, 3, 1), last_on=date(2024, 3, 1), under_dmp=set(),
    )  # fmt: skip
    assert not e.in_group
    assert e.reason == "age_or_sex"
    assert e.due_on == date(2026, 3, 1)


async def test_vector_4_invites_exactly_whom_it_says(scr, kz, today):
    today(date(2026, 6, 1))
    cervix_woman = await scr.make_patient(date(1990, 5, 10))
    breast_70 = await scr.make_patient(date(1955, 2, 1))
    breast_71 = await scr.make_patient(date(1955, 2, 1))
    await _screen(scr, cervix_woman.id, "cervical", date(2021, 6, 10))
    await _screen(scr, breast_70.id, "breast", date(2023, 11, 2))
    await _screen(scr, breast_71.id, "breast", date(2024, 3, 1))

    # cervix: due 2025-06-10 (4 years), age 35: one day before not yet, on the day invited
    assert cervix_woman.id not in await _invited(scr, "cervical", date(2025, 6, 9))
    assert cervix_woman.id in await _invited(scr, "cervical", date(2025, 6, 10))
    assert cervix_woman.id in await _invited(scr, "cervical", date(2025, 6, 11))
    # breast: due 2025-11-02 at 70: invited; the other is due 2026-03-01 at 71: never
    on_due = await _invited(scr, "breast", date(2025, 11, 2))
    assert breast_70.id in on_due
    assert breast_71.id not in on_due
    assert breast_70.id not in await _invited(scr, "breast", date(2025, 11, 1))
    assert breast_71.id not in await _invited(scr, "breast", date(2026, 3, 1))
    assert breast_71.id not in await _invited(scr, "breast", date(2026, 2, 28))  # not due


async def test_target_group_counts_match_the_worklist(scr, kz, today):
    today(date(2026, 6, 1))
    a = await scr.make_patient(date(1990, 5, 10))
    await scr.make_patient(date(1985, 1, 1))  # never screened: due
    await scr.make_patient(date(1990, 1, 1), sex="male")  # not a cervical group
    await _screen(scr, a.id, "cervical", date(2024, 1, 10))  # screened within 4 years
    [c] = await service.target_group_counts(
        scr.db, scr.principal(), date(2025, 6, 10), programme="cervical"
    )
    assert (c.eligible, c.due, c.screened) == (2, 1, 1)
    # the district counts every facility in it (the other polyclinic has nobody); an
    # aggregate, its counts of 1 to 4 are withheld ("<5", test_suppression.py)
    [d] = await service.target_group_counts(
        scr.db, scr.principal(), date(2025, 6, 10), area=scr.place.district, programme="cervical"
    )
    assert (d.eligible, d.due, d.screened) == (None, None, None)
    assert set(d.small) == {"eligible", "due", "screened"}


# ---- age and interval boundaries ----------------------------------------------------


@pytest.mark.parametrize(
    ("born", "invited"),
    [
        (date(1995, 6, 11), False),  # 29 on 2025-06-10 (30 tomorrow)
        (date(1995, 6, 10), True),  # 30 on the day
        (date(1955, 6, 10), True),  # 70 on the day (upper bound inclusive)
        (date(1954, 6, 11), True),  # 70, 71 tomorrow
        (date(1954, 6, 10), False),  # 71 on the day
    ],
)
async def test_age_bounds_are_inclusive(scr, kz, today, born, invited):
    today(date(2026, 1, 1))
    p = await scr.make_patient(born, sex="male")
    assert (p.id in await _invited(scr, "cvd_dm_risk", date(2025, 6, 10))) is invited


@pytest.mark.parametrize(("offset", "due"), [(-1, False), (0, True), (1, True)])
async def test_interval_one_day_before_at_after(scr, kz, today, offset, due):
    today(date(2026, 1, 1))
    p = await scr.make_patient(date(1970, 1, 1), sex="male")
    await _screen(scr, p.id, "cvd_dm_risk", date(2023, 3, 15))
    day = date.fromordinal(date(2025, 3, 15).toordinal() + offset)
    assert (p.id in await _invited(scr, "cvd_dm_risk", day)) is due


def test_leap_day_interval_is_due_on_the_first_of_march():
    assert service.add_years(date(2024, 2, 29), 1) == date(2025, 3, 1)
    assert service.interval_cutoff(date(2025, 2, 28), 1) == date(2024, 2, 28)


# ---- exclusion by dynamic observation -------------------------------------------------


async def test_a_woman_enrolled_in_hypertension_leaves_the_cardiovascular_group(scr, kz, today):
    today(date(2025, 9, 1))
    woman = await scr.make_patient(date(1975, 4, 4))
    day = date(2025, 6, 1)
    assert woman.id in await _invited(scr, "cvd_dm_risk", day)
    [before] = await service.target_group_counts(
        scr.db, scr.principal(), day, programme="cvd_dm_risk"
    )
    e = await service.enrol(
        scr.db, scr.principal(), woman.id,
        EnrolmentIn(programme="hypertension", diagnosis_code="I10", enrolled_on=date(2025, 5, 1)),
    )  # fmt: skip
    await scr.db.commit()
    assert woman.id not in await _invited(scr, "cvd_dm_risk", day)
    [after] = await service.target_group_counts(
        scr.db, scr.principal(), day, programme="cvd_dm_risk"
    )
    assert after.eligible == before.eligible - 1
    # before her enrolment she was in the group; a screening of her now is opportunistic
    assert woman.id in await _invited(scr, "cvd_dm_risk", date(2025, 4, 30))
    v = await _screen(scr, woman.id, "cvd_dm_risk", date(2025, 6, 1))
    assert v.opportunistic
    assert v.opportunistic_reason == "under_dmp"
    # still in the cervical group: hypertension excludes only what the pack says
    assert woman.id in await _invited(scr, "cervical", day)
    # the enrolment ends: she is back
    await service.end_enrolment(
        scr.db, scr.principal(), e.id,
        EnrolmentEndIn(ended_on=date(2025, 7, 1), end_reason="transferred"), e.version,
    )  # fmt: skip
    await scr.db.commit()
    assert woman.id in await _invited(scr, "cvd_dm_risk", date(2027, 7, 2))


# ---- opportunistic screening ---------------------------------------------------------


async def test_outside_the_group_is_kept_as_opportunistic_and_never_coverage(scr, kz, today):
    today(date(2025, 9, 1))
    young = await scr.make_patient(date(2000, 1, 1), sex="male")  # 25
    v = await _screen(
        scr, young.id, "cvd_dm_risk", date(2025, 6, 1),
        measurements=[MeasurementIn(kind="bp", systolic=120, diastolic=80)],
    )  # fmt: skip
    assert v.opportunistic
    assert v.opportunistic_reason == "age_or_sex"
    assert v.measurements[0].systolic == 120
    p = await scr.make_patient(date(1960, 1, 1), sex="male")
    first = await _screen(scr, p.id, "cvd_dm_risk", date(2025, 1, 10))
    again = await _screen(scr, p.id, "cvd_dm_risk", date(2025, 6, 1))  # not due yet
    assert not first.opportunistic
    assert again.opportunistic
    assert again.opportunistic_reason == "not_due"
    [c] = await service.target_group_counts(
        scr.db, scr.principal(), date(2025, 6, 1), programme="cvd_dm_risk"
    )
    assert c.screened == 1  # p once (his first); the young man is outside the group


async def test_screening_someone_out_of_scope_is_not_found(scr, kz, today):
    today(date(2025, 9, 1))
    elsewhere = await scr.make_patient(facility_code=scr.other.code)
    with pytest.raises(NotFound):
        await service.record_screening(
            scr.db, scr.principal(), elsewhere.id,
            ScreeningVisitIn(
                programme="cvd_dm_risk", performed_on=date(2025, 6, 1), result="normal"
            ),
        )  # fmt: skip


# ---- measurements and results -----------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "field"),
    [
        (MeasurementIn(kind="bp", systolic=400, diastolic=90), "measurements.0.systolic"),
        (MeasurementIn(kind="bp", systolic=120, diastolic=39), "measurements.0.diastolic"),
        (MeasurementIn(kind="glucose_fasting", value=6.1, unit="g/L"), "measurements.0.unit"),
        (MeasurementIn(kind="glucose_fasting", value=0.5, unit="mmol/L"), "measurements.0.value"),
        (MeasurementIn(kind="cholesterol", value=5.0, unit="mmol"), "measurements.0.unit"),
        (MeasurementIn(kind="smoking", code="sometimes"), "measurements.0.code"),
        (MeasurementIn(kind="mammography", code="4"), "measurements.0.kind"),  # not cvd's
    ],
)
async def test_impossible_measurements_are_refused_naming_the_field(scr, kz, today, m, field):
    today(date(2025, 9, 1))
    p = await scr.make_patient(date(1970, 1, 1))
    with pytest.raises(Invalid) as exc:
        await service.record_screening(
            scr.db, scr.principal(), p.id,
            ScreeningVisitIn(programme="cvd_dm_risk", performed_on=date(2025, 6, 1),
                             result="normal", measurements=[m]),
        )  # fmt: skip
    assert field in _errors(exc)


async def test_glucose_in_mg_per_dl_is_stored_in_mmol_per_l(scr, kz, today):
    today(date(2025, 9, 1))
    p = await scr.make_patient(date(1970, 1, 1))
    v = await _screen(
        scr, p.id, "cvd_dm_risk", date(2025, 6, 1), result="abnormal", next_step="enrol",
        measurements=[MeasurementIn(kind="glucose_fasting", value=126, unit="mg/dL"),
                      MeasurementIn(kind="bp", systolic=150, diastolic=95)],
    )  # fmt: skip
    g = v.measurements[0]
    assert g.unit == "mmol/L"
    assert g.value == pytest.approx(126 / 18.016)
    assert (g.value_entered, g.unit_entered, g.loinc) == ("126", "mg/dL", "1558-6")
    assert v.next_step == "enrol"


async def test_an_abnormal_result_needs_its_next_step(scr, kz, today):
    today(date(2025, 9, 1))
    p = await scr.make_patient(date(1970, 1, 1))
    with pytest.raises(Invalid) as exc:
        await _screen(scr, p.id, "cvd_dm_risk", date(2025, 6, 1), result="abnormal")
    assert "next_step" in _errors(exc)
    with pytest.raises(Invalid) as exc:
        await _screen(scr, p.id, "cvd_dm_risk", date(2025, 6, 1), next_step="refer")
    assert "next_step" in _errors(exc)
    with pytest.raises(Invalid) as exc:
        await _screen(scr, p.id, "no_such", date(2025, 6, 1))
    assert "programme" in _errors(exc)
    with pytest.raises(Invalid) as exc:
        await _screen(scr, p.id, "cvd_dm_risk", date(2025, 9, 2))
    assert "performed_on" in _errors(exc)


# ---- enrolment ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("programme", "code", "ok"),
    [
        ("hypertension", "I10", True),
        ("hypertension", "I15.9", True),
        ("hypertension", "I16", False),
        ("hypertension", "I09", False),
        ("t2dm", "E11.9", True),
        ("t2dm", "E10", False),
        ("chf", "I50.0", True),
        ("chf", "I51", False),
    ],
)
async def test_enrolment_needs_a_qualifying_diagnosis(scr, kz, today, programme, code, ok):
    today(date(2025, 9, 1))
    p = await scr.make_patient()
    data = EnrolmentIn(programme=programme, diagnosis_code=code, enrolled_on=date(2025, 1, 1))
    if ok:
        e = await service.enrol(scr.db, scr.principal(), p.id, data)
        assert e.next_visit_due == date(2025, 1, 29)  # 28 days (HEARTS default)
    else:
        with pytest.raises(Invalid) as exc:
            await service.enrol(scr.db, scr.principal(), p.id, data)
        assert "diagnosis_code" in _errors(exc)


async def test_one_open_enrolment_per_programme(scr, kz, today):
    today(date(2025, 9, 1))
    p = await scr.make_patient()
    data = EnrolmentIn(programme="hypertension", diagnosis_code="I10", enrolled_on=date(2025, 1, 1))
    await service.enrol(scr.db, scr.principal(), p.id, data)
    await scr.db.commit()
    with pytest.raises(Conflict):
        await service.enrol(scr.db, scr.principal(), p.id, data)
    await scr.db.rollback()
    # another programme is another enrolment
    await service.enrol(
        scr.db, scr.principal(), p.id,
        EnrolmentIn(programme="t2dm", diagnosis_code="E11", enrolled_on=date(2025, 1, 1)),
    )  # fmt: skip


# ---- vector 2: glucose control ----------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "controlled", "lenient"),
    [
        (MeasurementIn(kind="hba1c", value=7.4, unit="%"), False, True),
        (MeasurementIn(kind="hba1c", value=6.9, unit="%"), True, True),
        (MeasurementIn(kind="hba1c", value=7.0, unit="%"), False, True),  # not < 7
        (MeasurementIn(kind="hba1c", value=9.0, unit="%"), False, False),  # not < 9
        (MeasurementIn(kind="glucose_fasting", value=6.8, unit="mmol/L"), True, True),
        (MeasurementIn(kind="glucose_fasting", value=7.0, unit="mmol/L"), False, True),
        (MeasurementIn(kind="glucose_fasting", value=125, unit="mg/dL"), True, True),
        (MeasurementIn(kind="glucose_fasting", value=126, unit="mg/dL"), False, True),
        (MeasurementIn(kind="glucose_fasting", value=200, unit="mg/dL"), False, False),
    ],
)
async def test_vector_2_glucose_control(scr, kz, today, m, controlled, lenient):
    today(date(2025, 9, 1))
    p = await scr.make_patient()
    e = await service.enrol(
        scr.db, scr.principal(), p.id,
        EnrolmentIn(programme="t2dm", diagnosis_code="E11.9", enrolled_on=date(2025, 1, 1)),
    )  # fmt: skip
    v = await service.record_dmp_visit(
        scr.db,
        scr.principal("nurse"),
        e.id,
        DmpVisitIn(visited_on=date(2025, 2, 1), measurements=[m]),
    )
    [c] = v.control
    assert (c.controlled, c.lenient_controlled) == (controlled, lenient)
    assert v.next_visit_due == date(2025, 3, 1)


def test_vector_2_conversions_as_the_note_states():
    rules = service.screening_rules("KZ")
    edition = rules.edition(date(2025, 6, 1))
    six_eight = service.sugar_control(rules, edition, "glucose_fasting", 6.8)
    seven = service.sugar_control(rules, edition, "glucose_fasting", 7.0)
    assert (six_eight.compared, six_eight.unit, six_eight.controlled) == (122.5, "mg/dL", True)
    assert (seven.compared, seven.controlled) == (126.1, False)
    a1c = service.sugar_control(rules, edition, "hba1c", 7.4)
    assert (a1c.controlled, a1c.lenient_controlled) == (False, True)


@pytest.mark.parametrize(
    ("sys_", "dia", "controlled"),
    [(139, 89, True), (140, 85, False), (139, 90, False), (118, 76, True), (146, 88, False)],
)
def test_bp_control_boundary(sys_, dia, controlled):
    edition = service.screening_rules("KZ").edition(date(2025, 6, 1))
    assert service.bp_controlled(edition, sys_, dia) is controlled


# ---- DMP worklists ------------------------------------------------------------------------


async def test_dmp_worklists(scr, kz, today):
    today(date(2025, 9, 1))
    day = date(2025, 6, 30)

    async def enrolled(bp, *, due, prior=None, programme="hypertension", code="I10"):  # type: ignore[no-untyped-def]
        p = await scr.make_patient()
        e = await service.enrol(
            scr.db, scr.principal(), p.id,
            EnrolmentIn(programme=programme, diagnosis_code=code, enrolled_on=date(2025, 1, 1),
                        prior_mi_stroke=prior),
        )  # fmt: skip
        await service.record_dmp_visit(
            scr.db, scr.principal(), e.id,
            DmpVisitIn(visited_on=date(2025, 2, 1), next_visit_due=due,
                       measurements=[MeasurementIn(kind="bp", systolic=bp[0], diastolic=bp[1])]),
        )  # fmt: skip
        await scr.db.commit()
        return p.id

    controlled_on_time = await enrolled((130, 80), due=date(2025, 7, 1))
    overdue_29 = await enrolled((185, 100), due=date(2025, 6, 1))  # 29 days: not yet high risk
    overdue_30_severe = await enrolled((185, 100), due=date(2025, 5, 31))  # 30 days
    overdue_prior = await enrolled((145, 85), due=date(2025, 5, 1), prior=True)
    overdue_unknown = await enrolled((145, 85), due=date(2025, 5, 1), prior=None)
    overdue_no_prior = await enrolled((145, 85), due=date(2025, 5, 1), prior=False)

    async def ids(kind):  # type: ignore[no-untyped-def]
        w = await service.dmp_worklist(scr.db, scr.principal(), kind, day)
        await scr.db.commit()
        return {r.person_id: r for r in w.patients}, w

    overdue, _ = await ids("overdue")
    assert set(overdue) == {
        overdue_29,
        overdue_30_severe,
        overdue_prior,
        overdue_unknown,
        overdue_no_prior,
    }
    assert overdue[overdue_30_severe].days_overdue == 30
    uncontrolled, _ = await ids("uncontrolled")
    assert controlled_on_time not in uncontrolled
    assert overdue_29 in uncontrolled
    high, w = await ids("high_risk")
    assert set(high) == {overdue_30_severe, overdue_prior}
    assert high[overdue_30_severe].reasons == ["bp_180_110"]
    assert high[overdue_prior].reasons == ["prior_event_bp"]
    assert len(w.notes) == 1
    assert w.notes[0].startswith("1 ")
    assert overdue_unknown not in high
    assert overdue_no_prior not in high
    # the other polyclinic sees none of them
    other = await service.dmp_worklist(scr.db, scr.principal("other"), "overdue", day)
    assert other.patients == []


async def test_programme_card_shows_the_trend_and_whats_due(scr, kz, today):
    today(date(2025, 9, 1))
    p = await scr.make_patient(date(1970, 1, 1))
    e = await service.enrol(
        scr.db, scr.principal(), p.id,
        EnrolmentIn(programme="hypertension", diagnosis_code="I11.9", enrolled_on=date(2025, 1, 1)),
    )  # fmt: skip
    for day, bp in ((date(2025, 2, 1), (160, 95)), (date(2025, 3, 1), (138, 85))):
        await service.record_dmp_visit(
            scr.db, scr.principal(), e.id,
            DmpVisitIn(
                visited_on=day,
                measurements=[MeasurementIn(kind="bp", systolic=bp[0], diastolic=bp[1])],
            ),
        )  # fmt: skip
    card = await service.programme_card(scr.db, scr.principal(), p.id, date(2025, 6, 1))
    assert [t.controlled for t in card.bp_trend] == [False, True]
    assert card.control[0].controlled
    due = {d.programme for d in card.due}
    assert "cervical" in due
    assert "cvd_dm_risk" not in due


# ---- audit and the database constraint ----------------------------------------------------


async def test_writes_reads_and_lists_are_audited(scr, kz, today):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    today(date(2025, 9, 1))
    p = await scr.make_patient(date(1970, 1, 1))
    await _screen(scr, p.id, "cvd_dm_risk", date(2025, 6, 1))
    await service.programme_card(scr.db, scr.principal(), p.id)
    await _invited(scr, "cervical", date(2025, 6, 1))
    await scr.db.commit()
    rows = (
        await scr.db.execute(
            select(AuditEvent.action, AuditEvent.resource_type).where(
                AuditEvent.patient_id == p.id,
                AuditEvent.username == scr.doctor_account.username,
            )
        )
    ).all()
    assert ("create", "Encounter") in rows
    assert ("read", "EpisodeOfCare") in rows
    assert ("search", "Patient") in rows
    other = await scr.make_patient(date(1970, 1, 1), facility_code=scr.other.code)
    with pytest.raises(NotFound):
        await service.programme_card(scr.db, scr.principal(), other.id)


async def test_one_open_enrolment_is_a_database_constraint(scr, kz, today):
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from salomat.domains.screening.models import DmpEnrolment

    p = await scr.make_patient()

    def row(**kw):  # type: ignore[no-untyped-def]
        return DmpEnrolment(
            person_id=p.id, facility_id=scr.polyclinic.id, programme="hypertension",
            diagnosis_code="I10", enrolled_on=date(2025, 1, 1), recorded_by="t",
            created_at=datetime.now(UTC), **kw,
        )  # fmt: skip

    scr.db.add(row(ended_on=date(2025, 2, 1), end_reason="withdrawn"))
    scr.db.add(row())
    await scr.db.commit()  # an ended one and an open one: allowed
    scr.db.add(row())
    with pytest.raises(IntegrityError):
        await scr.db.commit()
    await scr.db.rollback()


async def test_the_invitation_list_of_one_section(scr, kz, today):
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import SectionIn

    today(date(2025, 9, 1))
    await registry.create_section(scr.db, scr.polyclinic.id, SectionIn(code="S1", name="One"))
    await scr.db.commit()
    inside = await scr.make_patient(date(1970, 1, 1), section_code="S1")
    outside = await scr.make_patient(date(1970, 1, 1))
    day = date(2025, 6, 1)
    w = await service.invitation_worklist(scr.db, scr.principal(), day, section="S1")
    ids = {r.person_id for r in w.invitations}
    assert inside.id in ids
    assert outside.id not in ids
    assert {r.section_code for r in w.invitations} == {"S1"}
    w = await service.invitation_worklist(scr.db, scr.principal(), day, section="-")
    ids = {r.person_id for r in w.invitations}
    assert outside.id in ids
    assert inside.id not in ids
    with pytest.raises(Invalid) as exc:
        await service.invitation_worklist(scr.db, scr.principal(), day, section="X" * 17)
    assert "section" in _errors(exc)


@pytest.mark.parametrize("seed", [1, 2])
async def test_sql_target_group_agrees_with_the_per_person_rule(scr, kz, today, seed):
    """Random people, screenings and enrolments: the set-wise SQL counts and the invitation
    list give what the per-person rule (``eligibility``) gives for each of them."""
    import random

    from salomat.domains.screening.service.eligibility import last_screenings, open_programmes

    rng = random.Random(seed)
    today(date(2026, 6, 1))
    day = date(2025, 6, 1)
    people = []
    for _ in range(25):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        p = await scr.make_patient(born, sex=rng.choice(["male", "female"]))
        people.append(p)
        for _ in range(rng.randrange(3)):
            on = day - timedelta(days=rng.randrange(1, 365 * 5))
            if on > born:
                await _screen(scr, p.id, rng.choice(["cvd_dm_risk", "cervical"]), on)
        if rng.random() < 0.3:
            start = day - timedelta(days=rng.randrange(-30, 400))
            if start > born:
                e = await service.enrol(
                    scr.db, scr.principal(), p.id,
                    EnrolmentIn(programme="hypertension", diagnosis_code="I10", enrolled_on=start),
                )  # fmt: skip
                if rng.random() < 0.3:
                    await service.end_enrolment(
                        scr.db, scr.principal(), e.id,
                        EnrolmentEndIn(ended_on=start + timedelta(days=10), end_reason="withdrawn"),
                        e.version,
                    )  # fmt: skip
                await scr.db.commit()
    rules = service.screening_rules("KZ")
    for code in ("cvd_dm_risk", "cervical"):
        programme = rules.programme(code, day)
        expected_group, expected_due = set(), set()
        for p in people:
            last = (await last_screenings(scr.db, p.id, day)).get(code)
            common = dict(sex=p.sex, birth=p.birth_date, deceased_on=None, day=day)
            under = await open_programmes(scr.db, p.id, day)
            e = service.eligibility(programme, last_on=None, under_dmp=under, **common)
            if e.in_group:
                expected_group.add(p.id)
            e = service.eligibility(programme, last_on=last, under_dmp=under, **common)
            if e.in_group:
                expected_due.add(p.id)
        [c] = await service.target_group_counts(scr.db, scr.principal(), day, programme=code)
        invited = await _invited(scr, code, day)
        ours = {p.id for p in people}
        assert expected_due, code  # the random data puts someone on the list
        assert invited & ours == expected_due, code
        # the facility has only these people in this test's own polyclinic
        assert (c.eligible, c.due) == (len(expected_group), len(expected_due)), code
