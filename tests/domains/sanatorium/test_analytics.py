"""The ministry's sanatorium dashboard: every figure against a hand-computed fixture, small
cells, CSV, the area filter, and who may read it.

Referrals, offers, beds, periods and stays are written straight into the tables of a
region made for each test (the queues are (profile, region), so other tests' rows stand in
other queues), with the times the figures count by. The period is one whole month two
months back (``YM``).
"""

from __future__ import annotations

import csv
import io
import secrets
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from salomat.core import i18n
from salomat.core.audit import AuditEvent
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn
from salomat.domains.sanatorium.models import (
    SanatoriumBed,
    SanatoriumOffer,
    SanatoriumPeriod,
    SanatoriumReferral,
    SanatoriumStay,
)
from salomat.domains.sanatorium.service.analytics import protect_grid, quantile
from salomat.domains.sanatorium.service.rules import local_today
from tests.factories import unique
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days
URL = "/api/v1/sanatorium/dashboard"


def _month_back(n: int) -> date:
    k = TODAY.year * 12 + TODAY.month - 1 - n
    return date(k // 12, k % 12 + 1, 1)


#: the period: a whole month two months back
MONTH = _month_back(2)
NEXT = _month_back(1)
YM = f"{MONTH:%Y-%m}"
DAYS_IN_MONTH = (NEXT - MONTH).days


def _at(day: date, hours: int = 12) -> datetime:
    """Noon UTC: the same local day in both packs' time zones."""
    return datetime(day.year, day.month, day.day, hours, tzinfo=UTC)


class Rows:
    """Writes the fixture's rows through one session (no service: the figures only count)."""

    def __init__(self, db: Any, region: str) -> None:
        self.db, self.region = db, region

    async def _add(self, row: Any) -> int:
        self.db.add(row)
        await self.db.flush()
        return int(row.id)

    async def referral(
        self,
        person_id: int,
        status: str,
        *,
        profile: str = "cardiology",
        created: datetime | None = None,
        applied: datetime | None = None,
        direct: bool = False,
    ) -> int:
        created = created or _at(MONTH - timedelta(days=200))
        return await self._add(
            SanatoriumReferral(
                number=f"T{secrets.token_hex(6)}",
                person_id=person_id,
                profile=profile,
                region=self.region,
                category="aftercare" if direct else "old_age_pensioner",
                tier=1 if direct else 3,
                direct=direct,
                indication="I25.1",
                conditions=[],
                warnings=[],
                status=status,
                applied_at=applied or created,
                created_at=created,
                updated_at=created,
            )
        )

    async def bed(self, facility_id: int, profile: str = "cardiology", active: bool = True) -> int:
        return await self._add(
            SanatoriumBed(
                facility_id=facility_id, profile=profile, label=unique("B"), active=active
            )
        )

    async def period(
        self, facility_id: int, starts_on: date, profile: str = "cardiology", nights: int = 12
    ) -> int:
        return await self._add(
            SanatoriumPeriod(
                facility_id=facility_id,
                profile=profile,
                region=self.region,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=nights),
                capacity=50,
                created_by="test",
                created_at=_at(starts_on - timedelta(days=100)),
            )
        )

    async def stay(
        self,
        referral_id: int,
        person_id: int,
        period_id: int,
        bed_id: int,
        facility_id: int,
        starts_on: date,
        status: str,
        booked_at: datetime,
        nights: int = 12,
    ) -> int:
        fulfilled = status == "fulfilled"
        return await self._add(
            SanatoriumStay(
                referral_id=referral_id,
                person_id=person_id,
                period_id=period_id,
                bed_id=bed_id,
                facility_id=facility_id,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=nights),
                status=status,
                voucher_code="ABCDEF",
                booked_at=booked_at,
                booked_by="test",
                arrived_on=starts_on if status in ("arrived", "fulfilled") else None,
                discharged_on=starts_on + timedelta(days=nights) if fulfilled else None,
                updated_at=booked_at,
            )
        )

    async def offers(
        self, referral_id: int, person_id: int, period_id: int, status: str, n: int, at: datetime
    ) -> None:
        for _ in range(n):
            await self._add(
                SanatoriumOffer(
                    referral_id=referral_id,
                    person_id=person_id,
                    period_id=period_id,
                    status=status,
                    offered_at=at,
                    expires_at=at + timedelta(hours=72),
                    decided_at=at + timedelta(hours=1),
                )
            )


async def _sanatorium(db: Any, settlement: str, name: str = "Sanatorium") -> Any:
    fac = await registry.create_facility(
        db,
        FacilityIn(code=unique("S"), name=name, kind="sanatorium", settlement_code=settlement),
    )
    await db.commit()
    return fac


async def _analyst(make_user: Any, login: Any, role: str = "analyst") -> dict[str, str]:
    return await login(await make_user(role))


def _queue(a: dict[str, Any], profile: str, region: str) -> dict[str, Any]:
    [row] = [q for q in a["queues"] if (q["profile"], q["region"]) == (profile, region)]
    return row


# ---- pure rules --------------------------------------------------------------------------------


def test_quantiles_are_the_inclusive_ones_of_statistics() -> None:
    data = [10, 20, 30, 40, 50, 100]
    hist = {v: 1 for v in data}
    assert quantile(hist, 0.5) == statistics.median(data) == 35.0
    assert quantile(hist, 0.9) == statistics.quantiles(data, n=10, method="inclusive")[8] == 75.0
    repeated = {3: 4, 7: 1, 40: 2}  # 3 3 3 3 7 40 40
    values = [3, 3, 3, 3, 7, 40, 40]
    assert quantile(repeated, 0.5) == statistics.median(values) == 3.0
    assert quantile(repeated, 0.9) == statistics.quantiles(values, n=10, method="inclusive")[8]
    assert quantile({}, 0.5) is None
    assert quantile({12: 1}, 0.9) == 12.0


def test_small_cells_are_protected_along_rows_and_columns() -> None:
    assert protect_grid([[6, 9, 5, 0], [8, 7, 0, 0]]) == set()
    # row 1's 2 needs a complement in its row (the 8) and in its column (the 9, which is
    # big enough that 2 + 9 leaves the small cell anywhere in 1..4); then the 8's column
    # needs a second hidden cell (the 6), and row 0 holds two hidden cells
    assert protect_grid([[6, 9, 5, 0], [8, 2, 0, 0]]) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    # 5 + 2 beside a column total of 7 pins the 2 whatever is withheld
    assert protect_grid([[6, 5, 5, 0], [8, 2, 0, 0]]) is None
    assert protect_grid([[5, 1]]) is None
    assert protect_grid([[0, 0], [0, 0]]) == set()
    assert protect_grid([]) == set()


# ---- every figure against the fixture ----------------------------------------------------------


async def test_each_figure_against_a_hand_computed_fixture(
    client, db, make_place, make_person, make_user, login
) -> None:
    """Queue A (cardiology): 7 in line; 6 booked in the period after 10, 20, 30, 40, 50 and
    100 days (the last re-queued 3 days before its booking: its wait counts from its first
    application); one more booked last month (released, not in the period's waits); a
    direct after-care booking (neither). Stays starting in the period: 8 arrived, 5 did not.
    Offers of the period: 6 accepted, 5 declined, 5 lapsed (one made today is not counted).
    Queue B (nervous): 5 in line, nothing else. Beds: 8 cardiology in use, 1 out of use that
    held a stay in the period, 3 nervous; a stay straddling the period's start counts its
    nights inside it."""
    place = await make_place()
    other = await make_place()
    sana = await _sanatorium(db, place.settlement, name="=HYPERLINK(1) sanatorium")
    w = Rows(db, place.region)

    async def person() -> int:
        return int((await make_person(birth_date=date(1950, 1, 1))).id)

    shared = await person()  # every referral that is over belongs to her
    beds = [await w.bed(sana.id) for _ in range(8)]
    retired = await w.bed(sana.id, active=False)
    for _ in range(3):
        await w.bed(sana.id, "nervous")
    start = MONTH + timedelta(days=1)
    in_month = await w.period(sana.id, start)

    # queue A: in line now (one holding an offer made today, outside the period)
    for i in range(7):
        ref = await w.referral(await person(), "offered" if i == 0 else "queued")
        if i == 0:
            await w.offers(ref, shared, in_month, "open", 1, datetime.now(UTC))
    # queue B: in line now
    for _ in range(5):
        await w.referral(await person(), "queued", profile="nervous")
    # in another region's queue: not in this region's answer
    await Rows(db, other.region).referral(await person(), "queued")

    # booked in the period: waits 10, 20, 30, 40, 50, 100 days; 4 arrived, 2 did not
    booked_at = _at(MONTH + timedelta(days=14))
    waits = [10, 20, 30, 40, 50, 100]
    outcome = ["fulfilled", "fulfilled", "arrived", "fulfilled", "noshow", "noshow"]
    holding = iter([*beds[:7], retired])  # one bed each for the 8 arrivals; beds[7] below
    for wait, status in zip(waits, outcome, strict=True):
        created = booked_at - timedelta(days=wait)
        applied = booked_at - timedelta(days=3) if wait == 100 else None
        ref = await w.referral(
            shared,
            "noshow" if status == "noshow" else "discharged",
            created=created,
            applied=applied,
        )
        bed = beds[0] if status == "noshow" else next(holding)
        await w.stay(ref, shared, in_month, bed, sana.id, start, status, booked_at)
    # booked long before, starting in the period: 3 arrived, 3 did not
    early = _at(MONTH - timedelta(days=150))
    for status in ("fulfilled", "fulfilled", "fulfilled", "noshow", "noshow", "noshow"):
        ref = await w.referral(shared, "noshow" if status == "noshow" else "discharged")
        bed = beds[0] if status == "noshow" else next(holding)
        await w.stay(ref, shared, in_month, bed, sana.id, start, status, early)
    # a direct after-care booking in the period: arrived, no queue
    ref = await w.referral(shared, "discharged", direct=True)
    await w.stay(ref, shared, in_month, next(holding), sana.id, start, "fulfilled", booked_at)
    # a stay from 5 days before the period to 7 days into it: 7 nights count
    straddle = MONTH - timedelta(days=5)
    before = await w.period(sana.id, straddle)
    ref = await w.referral(shared, "discharged")
    await w.stay(ref, shared, before, beds[7], sana.id, straddle, "fulfilled", early)
    # booked last month for next month: released, not in the period
    ref = await w.referral(await person(), "booked")
    later = await w.period(sana.id, TODAY + timedelta(days=40))
    await w.stay(
        ref,
        shared,
        later,
        beds[0],
        sana.id,
        TODAY + timedelta(days=40),
        "booked",
        _at(NEXT + timedelta(days=3)),
    )
    # offers made in the period and what became of them (on a referral that is over)
    host = await w.referral(shared, "cancelled")
    offered = _at(MONTH + timedelta(days=10))
    for status, n in (("accepted", 6), ("declined", 5), ("lapsed", 5)):
        await w.offers(host, shared, in_month, status, n, offered)
    await db.commit()

    headers = await _analyst(make_user, login)
    params = {"region": place.region, "from": YM, "to": YM}
    r = await client.get(URL, params=params, headers=headers)
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["area_code"], a["month_from"], a["month_to"]) == (place.region, YM, YM)
    assert (a["period_start"], a["period_end"]) == (
        MONTH.isoformat(),
        (NEXT - timedelta(days=1)).isoformat(),
    )
    assert a["queues_national"] is False
    assert {(q["profile"], q["region"]) for q in a["queues"]} == {
        ("cardiology", place.region),
        ("nervous", place.region),
    }

    q = _queue(a, "cardiology", place.region)
    assert q["in_line"] == 7
    assert q["released_3m"] == 7  # 6 in the period (two months back) and 1 last month
    # (7 + 1) / (7 / 3) months of 30.4375 days
    assert q["wait_days_new"] == round(8 / (7 / 3) * 30.4375, 1) == 104.4
    assert q["booked"] == 6
    assert q["wait_days_median"] == 35.0  # (30 + 40) / 2
    assert q["wait_days_p90"] == 75.0  # 50 + 0.5 * (100 - 50)
    assert (q["offers_made"], q["offers_accepted"], q["offers_declined"]) == (16, 6, 5)
    assert (q["offers_lapsed"], q["offers_other"]) == (5, 0)
    # 4 + 3 queued arrivals and the direct one; 2 + 3 no-shows
    assert (q["stays_settled"], q["arrived"], q["noshow"]) == (13, 8, 5)
    assert q["noshow_share"] == round(5 / 13, 4)

    b = _queue(a, "nervous", place.region)
    assert (b["in_line"], b["released_3m"], b["wait_days_new"], b["booked"]) == (5, 0, None, 0)
    assert (b["wait_days_median"], b["offers_made"], b["stays_settled"]) == (None, 0, 0)
    assert b["noshow_share"] is None

    t = a["queues_total"]
    assert (t["profile"], t["region"], t["in_line"], t["released_3m"]) == (None, None, 12, 7)
    assert (t["wait_days_median"], t["offers_made"], t["noshow"]) == (35.0, 16, 5)

    # occupancy: 9 cardiology beds (8 in use, 1 out of use holding a stay), 3 nervous
    occupied = 8 * 12 + 7  # the 8 arrivals' 12 nights, and 7 of the straddling stay's
    rows = {(o["facility_code"], o["profile"]): o for o in a["occupancy"]}
    cardio = rows[(sana.code, "cardiology")]
    assert (cardio["beds"], cardio["bed_days_booked"]) == (9, occupied)
    assert cardio["bed_days_available"] == 9 * DAYS_IN_MONTH
    assert cardio["occupancy"] == round(occupied / (9 * DAYS_IN_MONTH), 4)
    assert cardio["region"] == place.region
    nervous = rows[(sana.code, "nervous")]
    assert (nervous["beds"], nervous["bed_days_booked"], nervous["occupancy"]) == (3, 0, 0.0)
    total = a["occupancy_total"]
    assert (total["beds"], total["bed_days_booked"]) == (12, occupied)
    assert total["occupancy"] == round(occupied / (12 * DAYS_IN_MONTH), 4)
    assert {o["profile"]: o["beds"] for o in a["occupancy_by_profile"]} == {
        "cardiology": 9,
        "nervous": 3,
    }

    # nobody's name, number or diagnosis
    for private in ("I25.1", "person_id", "number"):
        assert private not in r.text

    # the whole country holds the same queue rows (the ones that are never suppressed)
    national = (await client.get(URL, params={"from": YM, "to": YM}, headers=headers)).json()
    row = _queue(national, "cardiology", place.region)
    assert (row["in_line"], row["released_3m"], row["booked"]) == (7, 7, 6)
    assert (row["wait_days_median"], row["wait_days_p90"], row["offers_made"]) == (35.0, 75.0, 16)
    assert _queue(national, "cardiology", other.region)["in_line"] == 1

    # the CSV: the same figures, the sanatorium's name neutralised
    r = await client.get(f"{URL}/queues.csv", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = {(x["profile"], x["region"]): x for x in csv.DictReader(io.StringIO(r.text))}
    line = lines[("cardiology", place.region)]
    assert (line["in_line"], line["wait_days_median"], line["noshow"]) == ("7", "35.0", "5")
    assert lines[("total", "")]["in_line"] == "12"
    r = await client.get(f"{URL}/occupancy.csv", params=params, headers=headers)
    cells = [c for row in csv.reader(io.StringIO(r.text)) for c in row]
    assert "'=HYPERLINK(1) sanatorium" in cells
    assert not any(c.startswith("=") for c in cells)


async def test_small_outcome_counts_are_never_sent(
    client, db, make_place, make_person, make_user, login
) -> None:
    """Offers (accepted, declined, lapsed): cardiology 6, 9, 5 and nervous 8, 2, 0; the 2 is
    "<5" and, so that neither its row nor its column gives it away, the 8, 9 and 6 are
    withheld too. Stays due: cardiology 10 arrived and 7 not, nervous 8 and 2."""
    place = await make_place()
    sana = await _sanatorium(db, place.settlement)
    w = Rows(db, place.region)
    shared = int((await make_person(birth_date=date(1950, 1, 1))).id)
    start = MONTH + timedelta(days=1)
    offered = _at(MONTH + timedelta(days=10))
    for profile, counts, arrived, noshow in (
        ("cardiology", (6, 9, 5), 10, 7),
        ("nervous", (8, 2, 0), 8, 2),
    ):
        period = await w.period(sana.id, start, profile)
        host = await w.referral(shared, "cancelled", profile=profile)
        for status, n in zip(("accepted", "declined", "lapsed"), counts, strict=True):
            await w.offers(host, shared, period, status, n, offered)
        for i in range(arrived + noshow):
            status = "fulfilled" if i < arrived else "noshow"
            bed = await w.bed(sana.id, profile)
            ref = await w.referral(
                shared, "discharged" if i < arrived else "noshow", profile=profile
            )
            await w.stay(ref, shared, period, bed, sana.id, start, status, offered)
    await db.commit()

    headers = await _analyst(make_user, login, "insurance_analyst")
    params = {"region": place.region, "from": YM, "to": YM}
    a = (await client.get(URL, params=params, headers=headers)).json()
    assert a["offers_too_few"] is False
    c, n = _queue(a, "cardiology", place.region), _queue(a, "nervous", place.region)
    assert (c["offers_made"], n["offers_made"]) == (20, 10)  # places offered: published
    assert [c[k] for k in ("offers_accepted", "offers_declined", "offers_lapsed")] == [
        "x",
        "x",
        5,
    ]
    assert [n[k] for k in ("offers_accepted", "offers_declined", "offers_lapsed")] == [
        "x",
        "<5",
        0,
    ]
    t = a["queues_total"]
    assert [t[k] for k in ("offers_accepted", "offers_declined", "offers_lapsed")] == [14, 11, 5]
    # stays: every cell withheld, the totals and the shares of the total published
    assert (c["arrived"], c["noshow"], n["arrived"], n["noshow"]) == ("x", "x", "x", "<5")
    assert (c["noshow_share"], n["noshow_share"]) == (None, None)
    assert (c["stays_settled"], n["stays_settled"]) == (17, 10)
    assert (t["arrived"], t["noshow"], t["noshow_share"]) == (18, 9, round(9 / 27, 4))

    r = await client.get(f"{URL}/queues.csv", params=params, headers=headers)
    rows = {x["profile"]: x for x in csv.DictReader(io.StringIO(r.text))}
    assert (rows["nervous"]["offers_declined"], rows["nervous"]["offers_accepted"]) == ("<5", "x")
    assert rows["nervous"]["noshow"] == "<5"
    assert "2" not in rows["nervous"].values()


async def test_too_few_to_protect_withholds_the_outcomes(
    client, db, make_place, make_person, make_user, login
) -> None:
    place = await make_place()
    sana = await _sanatorium(db, place.settlement)
    w = Rows(db, place.region)
    shared = int((await make_person(birth_date=date(1950, 1, 1))).id)
    period = await w.period(sana.id, MONTH + timedelta(days=1))
    host = await w.referral(shared, "cancelled")
    offered = _at(MONTH + timedelta(days=10))
    await w.offers(host, shared, period, "accepted", 5, offered)
    await w.offers(host, shared, period, "declined", 1, offered)
    await db.commit()
    a = (
        await client.get(
            URL,
            params={"region": place.region, "from": YM, "to": YM},
            headers=await _analyst(make_user, login),
        )
    ).json()
    assert a["offers_too_few"] is True
    q = _queue(a, "cardiology", place.region)
    assert q["offers_made"] == 6
    assert (q["offers_accepted"], q["offers_declined"]) == ("x", "<5")
    t = a["queues_total"]
    assert (t["offers_accepted"], t["offers_declined"]) == ("x", "<5")


# ---- who, and wrong input ----------------------------------------------------------------------


async def test_only_analysts_read_the_dashboard_and_each_read_is_audited(
    client, db, make_user, make_person, login
) -> None:
    doctor = await login(await make_user("family_doctor"))
    admin = await login(await make_user("sanatorium_admin"))
    person = await make_person()
    citizen = await login(await make_user("citizen", person_id=person.id))
    for headers in (doctor, admin, citizen):
        assert (await client.get(URL, headers=headers)).status_code == 403
        assert (await client.get(f"{URL}/queues.csv", headers=headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401
    analyst = await make_user("analyst")
    r = await client.get(URL, headers=await login(analyst))
    assert r.status_code == 200, r.text
    events = (
        await db.scalars(
            select(AuditEvent).where(
                AuditEvent.username == analyst.username,
                AuditEvent.resource_type == "SanatoriumDashboard",
            )
        )
    ).all()
    assert [(e.action, e.resource_id, e.patient_id) for e in events] == [("read", "national", None)]


async def test_wrong_months_and_regions_are_named(client, make_user, login, make_place) -> None:
    headers = await _analyst(make_user, login)
    place = await make_place()
    too_far = _month_back(-13)
    for params, field in (
        ({"from": "2026-13"}, "from"),
        ({"to": "June"}, "to"),
        ({"to": f"{too_far:%Y-%m}"}, "to"),
        ({"from": YM, "to": f"{_month_back(3):%Y-%m}"}, "from"),
        ({"region": "no-such-unit"}, "region"),
        ({"region": place.district}, "region"),
        ({"region": "\x00"}, "region"),
    ):
        r = await client.get(URL, params=params, headers=headers)
        assert r.status_code == 422, (params, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], params
    r = await client.get(f"{URL}/nonsense.csv", headers=headers)
    assert r.status_code == 422
    # a month a year ahead is allowed (places already booked)
    ahead = _month_back(-12)
    r = await client.get(URL, params={"to": f"{ahead:%Y-%m}"}, headers=headers)
    assert r.status_code == 200, r.text


# ---- the page (without a browser) --------------------------------------------------------------


async def test_the_page_shows_the_figures_and_the_signs(
    client, db, make_place, make_person, make_user
) -> None:
    from tests.domains.registry.test_web import web_login

    place = await make_place()
    sana = await _sanatorium(db, place.settlement)
    w = Rows(db, place.region)
    for _ in range(6):
        await w.referral(int((await make_person()).id), "queued")
    shared = int((await make_person()).id)
    period = await w.period(sana.id, MONTH + timedelta(days=1))
    host = await w.referral(shared, "cancelled")
    offered = _at(MONTH + timedelta(days=10))
    await w.offers(host, shared, period, "accepted", 9, offered)
    await w.offers(host, shared, period, "declined", 2, offered)
    await w.bed(sana.id)
    await db.commit()

    await web_login(client, await make_user("family_doctor"))
    assert (await client.get("/dashboard/sanatorium")).status_code == 403
    await web_login(client, await make_user("analyst"))
    params = {"region": place.region, "from": YM, "to": YM}
    page = await client.get("/dashboard/sanatorium", params=params)
    assert page.status_code == 200, page.text
    assert 'href="/dashboard/sanatorium"' in page.text  # the nav item
    row = page.text.split('data-testid="sa-queue" data-profile="cardiology"', 1)[1]
    row = row.split("</tr>", 1)[0]
    assert 'data-key="in_line">6<' in row
    assert 'data-key="offers_made">11<' in row
    assert "&lt;5" in row  # the 2 declined
    assert ">2<" not in row
    assert 'data-testid="kpi-in-line">6<' in page.text
    assert 'data-testid="sa-profile" data-key="cardiology"' in page.text  # the chart
    assert 'href="/dashboard/sanatorium.csv?table=queues&amp;' in page.text

    csv_page = await client.get("/dashboard/sanatorium.csv", params={**params, "table": "queues"})
    assert csv_page.status_code == 200
    assert csv_page.text.splitlines()[0].startswith("First month,Last month")
    bad = await client.get("/dashboard/sanatorium", params={"from": "2026-13"})
    assert bad.status_code == 422
    assert 'data-field="from"' in bad.text
    bad = await client.get("/dashboard/sanatorium.csv", params={"table": "people"})
    assert bad.status_code == 422


# ---- the page in Chromium ------------------------------------------------------------------------


@in_chromium
async def test_the_dashboard_in_chromium(live_server, db, make_place, make_person, make_user):
    """An analyst, in the pack's language, opens the dashboard from the menu, reads a
    region's queue (the small count as its sign), and downloads its CSV."""
    place = await make_place()
    sana = await _sanatorium(db, place.settlement)
    w = Rows(db, place.region)
    for _ in range(6):
        await w.referral(int((await make_person()).id), "queued")
    shared = int((await make_person()).id)
    period = await w.period(sana.id, MONTH + timedelta(days=1))
    host = await w.referral(shared, "cancelled")
    offered = _at(MONTH + timedelta(days=10))
    await w.offers(host, shared, period, "accepted", 9, offered)
    await w.offers(host, shared, period, "declined", 2, offered)
    await w.bed(sana.id)
    await db.commit()
    analyst = await make_user("analyst")
    lang = "uz"
    _ = i18n.translations(lang).gettext

    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(analyst.username)
        await browser.context.add_cookies(
            [{"name": "salomat_lang", "value": lang, "url": browser.url("/")}]
        )
        await page.goto(browser.url("/"))
        async with page.expect_navigation():
            await page.locator('nav a[href="/dashboard/sanatorium"]').first.click()
        assert _("Sanatorium statistics") in await page.title()
        await page.goto(
            browser.url(f"/dashboard/sanatorium?region={place.region}&from={YM}&to={YM}")
        )
        row = page.locator('[data-testid="sa-queue"][data-profile="cardiology"]')
        assert await row.locator('[data-key="in_line"]').inner_text() == "6"
        assert await row.locator('[data-key="offers_made"]').inner_text() == "11"
        assert (await row.locator('[data-key="offers_declined"]').inner_text()).strip() == "<5"
        assert await page.get_by_test_id("sa-profile").count() == 1  # the chart's one bar
        await browser.screenshot("sanatorium-dashboard")
        href = await page.get_by_test_id("sa-csv-queues").get_attribute("href")
        assert href is not None
        r = await page.request.get(browser.url(href))
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/csv")
        text = await r.text()
        assert text.splitlines()[0].startswith(f"{_('First month')},{_('Last month')}")
