"""The pack's control rules (KZ ``insurance.yaml`` ``control``), each below, at and above
its threshold, at submission and in the nightly run over a month. Expected values are
derived by hand from the pack: grace 3 months; CONS-GYN female only; MAMMO-SCREEN
female 40-70; many_providers max 3; volume_outlier factor 3.0, min_peers 3,
min_lines 10."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from salomat.core import i18n
from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.service import claims, control
from salomat.domains.insurance.service.rules import add_months
from tests.domains.insurance.claim_fixtures import (
    line,
    pay,
    register_death,
    submit,
)

pytestmark = pytest.mark.anyio


def rules_of(out) -> list[set[str]]:  # type: ignore[no-untyped-def]
    return [{f.rule for f in li.flags} for li in out.lines]


async def stored_rules(db, line_ids) -> dict[int, tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    db.expire_all()
    rows = await db.execute(
        select(ClaimLine.id, ClaimLine.status, ClaimLine.flags).where(ClaimLine.id.in_(line_ids))
    )
    return {i: (s, {f["rule"] for f in fl or []}) for i, s, fl in rows.all()}


# ---- after_death ------------------------------------------------------------------------


async def test_after_death_flags_a_service_after_the_day_of_death(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    died = month + timedelta(days=10)
    p = await make_provider()
    person = await make_insuree()
    await register_death(db, person, died)
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", died - timedelta(days=1)),  # below
            line(person, "EMERG-CALL", died),  # at: treated on the day she died
            line(person, "EMERG-CALL", died + timedelta(days=1)),  # above
        ],
    )
    assert rules_of(out) == [set(), set(), {"after_death"}]
    assert [li.status for li in out.lines] == ["entered", "entered", "flagged"]
    flag = out.lines[2].flags[0]
    assert flag.params == {
        "day": (died + timedelta(days=1)).isoformat(),
        "death": died.isoformat(),
    }
    assert flag.reason == (
        f"service on {died + timedelta(days=1):%d.%m.%Y}, after the registered death on "
        f"{died:%d.%m.%Y}"
    )


async def test_the_nightly_run_flags_a_death_registered_after_the_claim(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    out = await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=5))])
    assert rules_of(out) == [set()]
    await register_death(db, person, month + timedelta(days=4))
    run = await control.run_controls(db, month)
    await db.commit()
    assert run.fired["after_death"] == 1
    assert run.lines == 1
    assert run.newly_flagged == 1
    assert (await stored_rules(db, [out.lines[0].id]))[out.lines[0].id] == (
        "flagged",
        {"after_death"},
    )
    again = await control.run_controls(db, month)
    await db.commit()
    assert again.fired["after_death"] == 1
    assert again.newly_flagged == 0  # a line carries a rule once


# ---- uninsured ----------------------------------------------------------------------------


async def test_uninsured_follows_the_grace_months(kz, db, make_provider, make_insuree, fresh_month):
    """Grace 3: an employer's payment for month M-3 covers M-3 and holds through M; one
    for M-4 holds through M-1, so a service in M is to an uninsured person."""
    month = fresh_month()
    p = await make_provider()
    paid_now, at_edge, lapsed, never = [await make_insuree() for _ in range(4)]
    await pay(db, paid_now, month)
    await pay(db, at_edge, add_months(month, -3))
    await pay(db, lapsed, add_months(month, -4))
    day = month + timedelta(days=14)
    out = await submit(
        db,
        p,
        [
            line(paid_now, "LAB-CBC", day),
            line(at_edge, "LAB-CBC", day),
            line(lapsed, "LAB-CBC", day),
            line(never, "LAB-CBC", day),
            line(never, "EMERG-CALL", day),  # the guaranteed package: everyone
        ],
    )
    assert rules_of(out) == [set(), set(), {"uninsured"}, {"uninsured"}, set()]
    assert out.lines[2].flags[0].params == {"service": "LAB-CBC", "day": day.isoformat()}


async def test_uninsured_counts_arrears_first_and_the_protected_categories(
    kz, db, make_provider, make_insuree, fresh_month
):
    """An independent payer paid for M-4 in M-4 (holds through M-1); her next payment,
    made in M+1 for M+1, goes first to the oldest arrear, M-3, which holds through M:
    insured in M, though no payment names a month from M-3 to M. A person in a listed
    category and a child are insured without any payment."""
    from salomat.core.db import utcnow
    from salomat.domains.insurance.models import CategoryMember

    month = fresh_month()
    p = await make_provider()
    payer_self = await make_insuree()
    await pay(db, payer_self, add_months(month, -4), kind="independent")
    await pay(db, payer_self, add_months(month, 1), kind="independent")
    listed = await make_insuree()
    db.add(
        CategoryMember(
            person_id=listed.id,
            category="disability",
            start_on=month,
            end_on=month + timedelta(days=9),
            recorded_by="fixture",
            recorded_at=utcnow(),
        )
    )
    await db.commit()
    child = await make_insuree(month - timedelta(days=365 * 5))
    out = await submit(
        db,
        p,
        [
            line(payer_self, "LAB-CBC", month + timedelta(days=3)),
            line(listed, "LAB-CBC", month + timedelta(days=9)),  # the category's last day
            line(listed, "LAB-CBC", month + timedelta(days=10)),  # the day after
            line(child, "LAB-CBC", month + timedelta(days=3)),
        ],
    )
    assert rules_of(out) == [set(), set(), {"uninsured"}, set()]


async def test_no_one_is_uninsured_under_a_universal_scheme(
    db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()  # UZ: every resident covered
    p = await make_provider()
    person = await make_insuree()
    out = await submit(db, p, [line(person, "LAB-CBC", month + timedelta(days=1))])
    assert rules_of(out) == [set()]


# ---- duplicate ------------------------------------------------------------------------------


async def test_duplicate_is_the_same_person_service_and_day_on_any_claim(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    a, b = await make_provider(), await make_provider()
    person = await make_insuree()
    day = month + timedelta(days=6)
    first = await submit(
        db,
        a,
        [
            line(person, "EMERG-CALL", day),
            line(person, "EMERG-CALL", day + timedelta(days=1)),  # another day: no
            line(person, "DIALYSIS", day),  # another service: no
        ],
    )
    assert rules_of(first) == [set(), set(), set()]
    second = await submit(db, b, [line(person, "EMERG-CALL", day)])
    assert rules_of(second) == [{"duplicate"}]
    assert second.lines[0].flags[0].params == {"day": day.isoformat(), "line": first.lines[0].id}
    # within one claim: the second of two equal lines
    third = await submit(
        db,
        a,
        [
            line(person, "DIALYSIS", day + timedelta(days=2)),
            line(person, "DIALYSIS", day + timedelta(days=2)),
        ],
    )
    assert rules_of(third) == [set(), {"duplicate"}]
    run = await control.run_controls(db, month)
    await db.commit()
    assert run.fired["duplicate"] == 2


# ---- sex_age ----------------------------------------------------------------------------------


async def test_sex_and_age_limits_of_a_service(kz, db, make_provider, make_insuree, fresh_month):
    month = fresh_month()
    p = await make_provider()
    # born on the 15th: 40 on the month's 15th, 39 the day before
    forty = await make_insuree(date(month.year - 40, month.month, 15), "female")
    seventy = await make_insuree(date(month.year - 71, month.month, 15), "female")
    man = await make_insuree(date(month.year - 45, 1, 1), "male")
    await pay(db, man, month)
    d14, d15 = month + timedelta(days=13), month + timedelta(days=14)
    out = await submit(
        db,
        p,
        [
            line(forty, "MAMMO-SCREEN", d14),  # 39: below 40
            line(forty, "MAMMO-SCREEN", d15),  # 40: at the lower limit
            line(seventy, "MAMMO-SCREEN", d14),  # 70: at the upper limit
            line(seventy, "MAMMO-SCREEN", d15),  # 71: above
            line(man, "CONS-GYN", d14),  # a woman's service
            line(man, "CONS-URO", d14),
        ],
    )
    assert rules_of(out) == [{"sex_age"}, set(), set(), {"sex_age"}, {"sex_age"}, set()]
    # the reader sees the service's name (KZ insurance_services.csv), the flag keeps its code
    assert out.lines[0].flags[0].reason == "Screening mammography is not given at the age of 39"
    assert out.lines[3].flags[0].params == {"service": "MAMMO-SCREEN", "age": 71}
    assert out.lines[4].flags[0].reason == (
        "Gynaecologist consultation is not given to a person of this sex"
    )
    token = i18n.set_language("ru")
    try:
        ru = await claims.get_claim(db, p.principal, out.id)
    finally:
        i18n.reset_language(token)
    assert (
        ru.lines[4].flags[0].reason == "Консультация гинеколога не оказывается человеку этого пола"
    )
    assert ru.lines[4].flags[0].params == {"service": "CONS-GYN", "age": 45}


# ---- many_providers ----------------------------------------------------------------


async def test_many_providers_on_one_day(kz, db, make_provider, make_insuree, fresh_month):
    """Max 3: three providers for one person on one day pass; a fourth flags the day."""
    month = fresh_month()
    providers = [await make_provider() for _ in range(4)]
    three, four = await make_insuree(), await make_insuree()
    await pay(db, three, month)
    await pay(db, four, month)
    day = month + timedelta(days=20)
    codes = ["LAB-CBC", "MRI-BRAIN", "CONS-CARDIO", "CONS-ENDO"]
    outs = []
    for i, prov in enumerate(providers):
        lines = [line(four, codes[i], day)]
        if i < 3:
            lines.append(line(three, codes[i], day))
        outs.append(await submit(db, prov, lines))
    # at submission: the fourth provider's line is the one that crosses the limit
    assert [rules_of(o)[0] for o in outs] == [set(), set(), set(), {"many_providers"}]
    assert outs[3].lines[0].flags[0].params == {"day": day.isoformat(), "providers": 4, "max": 3}
    run = await control.run_controls(db, month)
    await db.commit()
    assert run.fired["many_providers"] == 4  # every provider's line of that day
    ids = [o.lines[0].id for o in outs] + [o.lines[1].id for o in outs[:3]]
    stored = await stored_rules(db, ids)
    assert [stored[i][1] for i in ids] == [{"many_providers"}] * 4 + [set()] * 3


# ---- volume_outlier ----------------------------------------------------------------


async def _claim_volume(db, prov, people, lines_total, code, month):  # type: ignore[no-untyped-def]
    """``lines_total`` lines spread over ``people``, each person on days of her own."""
    lines = []
    for i in range(lines_total):
        person = people[i % len(people)]
        lines.append(line(person, code, month + timedelta(days=i // len(people))))
    return await submit(db, prov, lines)


async def test_volume_outlier_against_the_peers_median(
    kz, db, make_provider, make_insuree, fresh_month
):
    """LAB-CBC: peers A, B, C claim 1 line a person (2 people, 2 lines). X claims 30
    lines for 10 people (3.0, at the factor), Y 31 for 10 (3.1, above), Z 9 for 2 (4.5,
    but fewer than 10 lines). Each one's peers' median is 1 (three or more ratios of 1
    among four or five). MRI-BRAIN: only X, A and B claim it (two peers each, fewer
    than 3), so X's 4 lines a person raise nothing."""
    month = fresh_month()
    a, b, c, x, y, z = [await make_provider() for _ in range(6)]

    async def people(n: int) -> list:  # type: ignore[type-arg]
        return [await make_insuree() for _ in range(n)]

    for prov in (a, b, c):
        await _claim_volume(db, prov, await people(2), 2, "LAB-CBC", month)
    x_people = await people(10)
    xs = await _claim_volume(db, x, x_people, 30, "LAB-CBC", month)
    ys = await _claim_volume(db, y, await people(10), 31, "LAB-CBC", month)
    zs = await _claim_volume(db, z, await people(2), 9, "LAB-CBC", month)
    xm = await _claim_volume(db, x, x_people, 40, "MRI-BRAIN", month)
    await _claim_volume(db, a, await people(1), 1, "MRI-BRAIN", month)
    await _claim_volume(db, b, await people(1), 1, "MRI-BRAIN", month)
    run = await control.run_controls(db, month)
    await db.commit()
    assert run.fired["volume_outlier"] == 31
    stored = await stored_rules(db, [li.id for o in (xs, ys, zs, xm) for li in o.lines])
    has = {
        name: {("volume_outlier" in stored[li.id][1]) for li in o.lines}
        for name, o in (("x", xs), ("y", ys), ("z", zs), ("xm", xm))
    }
    assert has == {"x": {False}, "y": {True}, "z": {False}, "xm": {False}}
    db.expire_all()
    row = await db.get(ClaimLine, ys.lines[0].id)
    params = next(f["params"] for f in row.flags if f["rule"] == "volume_outlier")
    assert params == {
        "service": "LAB-CBC",
        "lines": 31,
        "people": 10,
        "ratio": "3.10",
        "factor": "3",
        "peers": 5,
        "median": "1.00",
    }


async def test_the_immediate_rules_leave_volume_to_the_nightly_run(
    kz, db, make_provider, make_insuree, fresh_month
):
    """Y's 31 LAB-CBC lines for 10 people (3.1 a person) against three peers' 1 a person:
    above the factor 3, at least 10 lines, 3 peers. Submitted last (the peers' lines
    already stored), no line of it carries volume_outlier; the nightly run flags all 31."""
    month = fresh_month()
    a, b, c, y = [await make_provider() for _ in range(4)]
    for prov in (a, b, c):
        await _claim_volume(db, prov, [await make_insuree() for _ in range(2)], 2, "LAB-CBC", month)
    ys = await _claim_volume(db, y, [await make_insuree() for _ in range(10)], 31, "LAB-CBC", month)
    assert len(ys.lines) == 31
    assert all("volume_outlier" not in rules for rules in rules_of(ys))
    stored = await stored_rules(db, [li.id for li in ys.lines])
    assert all("volume_outlier" not in rules for _, rules in stored.values())

    run = await control.run_controls(db, month)
    await db.commit()
    assert run.fired["volume_outlier"] == 31
    stored = await stored_rules(db, [li.id for li in ys.lines])
    assert all("volume_outlier" in rules for _, rules in stored.values()), stored
