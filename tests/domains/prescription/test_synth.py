"""Synthetic prescriptions, dispensings and claims (``salomat synth``), as the app keeps them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from salomat.core import synth
from salomat.core.db import get_engine, session_factory
from salomat.core.security import Principal
from salomat.domains.prescription import service as prescription
from salomat.domains.registry.schemas import SyntheticPopulation
from tests.domains.immunization.test_synth import population_for
from tests.synth_support import AS_OF, empty_database, sync_url

CODE = r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{2}$"


@contextmanager
def loaded(
    country: str = "UZ", seed: int = 5, people: int = 1200, as_of: date = AS_OF
) -> Iterator[tuple[str, SyntheticPopulation, dict[str, int]]]:
    with empty_database() as url:
        with synth.run(
            url, country=country, people=people, seed=seed, as_of=as_of, progress=synth._Silent()
        ) as ctx:
            pop = population_for(ctx, people)
            counts = prescription.synthesize_prescriptions(ctx, pop)
        yield url, pop, counts


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as c:
            return list(c.execute(text(sql)).all())
    finally:
        engine.dispose()


def _amounts_fit(d: Any, pct: int) -> bool:
    """Some pharmacy package price gives exactly the stored price, fund's share and co-payment
    through the app's own ``dispensing_amounts`` (the package price itself is not stored)."""
    centre = d.price * d.units_per_package // d.units
    return any(
        prescription.dispensing_amounts(p, d.reference_price, d.units, d.units_per_package, pct)
        == (d.price, d.reimbursed_amount, d.copayment)
        for p in range(max(0, centre - d.units_per_package - 1), centre + d.units_per_package + 2)
    )


def _day(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_prescriptions_keep_the_apps_rules_and_invariants(country: str) -> None:
    import re

    rules = prescription.prescription_rules(country)
    with loaded(country) as (url, pop, counts):
        rxs = _rows(
            url,
            "SELECT id, code, person_id, inn, diagnosis, reimbursed, reimbursement_pct, kind, "
            "dose_units, times_per_day, days, quantity_units, dispensed_units, status, "
            "issued_on, valid_until, facility_id, practitioner_id FROM prescription",
        )
        assert counts["prescription"] == len(rxs) > 50
        disp = _rows(
            url,
            "SELECT d.id, d.prescription_id, d.person_id, d.facility_id, d.units, d.price, "
            "d.reimbursed_amount, d.copayment, d.dispensed_at, m.units_per_package, "
            "m.reference_price FROM dispensing d JOIN medicine m ON m.id = d.medicine_id",
        )
        index = {pop.person_id[i]: i for i in range(len(pop))}
        pharmacies = {f.id: f for f in pop.facilities if f.kind == "pharmacy"}
        by_rx: dict[int, list[Any]] = defaultdict(list)
        for d in disp:
            by_rx[d.prescription_id].append(d)
        active: set[tuple[int, str]] = set()
        statuses = set()
        for r in rxs:
            assert re.match(CODE, r.code)
            assert prescription.normalise_code(r.code.replace("-", " ").lower()) == r.code
            i = index[r.person_id]
            assert pop.alive(i) or pop.deceased[i]
            assert not pop.is_duplicate[i]
            assert r.quantity_units == prescription.quantity_units(
                r.dose_units, r.times_per_day, r.days
            )
            kind = rules.types[r.kind]
            issued, until = _day(r.issued_on), _day(r.valid_until)
            assert (until - issued).days == kind.validity_days - 1
            assert issued <= AS_OF
            assert r.facility_id == pop.facility_id[i]
            assert r.practitioner_id in pop.facility(r.facility_id).practitioners
            if r.reimbursed:
                rule = rules.reimbursement[r.inn]
                assert prescription.diagnosis_qualifies(r.diagnosis, rule.diagnoses)
                assert r.reimbursement_pct == rule.rate_pct
            given = by_rx[r.id]
            assert sum(d.units for d in given) == r.dispensed_units <= r.quantity_units
            for d in given:
                on = _day(d.dispensed_at)
                assert issued <= on <= min(until, AS_OF)
                assert d.person_id == r.person_id
                # a pharmacy of the person's district (of the region when the district has none)
                district = pop.district_of[pop.settlement_id[i]]
                if any(f.district_id == district for f in pharmacies.values()):
                    assert pharmacies[d.facility_id].district_id == district
                else:
                    assert pharmacies[d.facility_id].region_id == pop.region_of[district]
                pct = r.reimbursement_pct if r.reimbursed else 0
                assert _amounts_fit(d, pct), (d, pct)
                assert d.price == d.reimbursed_amount + d.copayment
                if not r.reimbursed:
                    assert d.reimbursed_amount == 0
            # the status agrees with the dates
            if r.status == "dispensed":
                assert r.dispensed_units == r.quantity_units
            elif r.status == "expired":
                assert until < AS_OF
                assert r.dispensed_units < r.quantity_units
            elif r.status == "active":
                assert until >= AS_OF
                assert r.dispensed_units < r.quantity_units
                assert (r.person_id, r.inn) not in active
                active.add((r.person_id, r.inn))
            statuses.add(r.status)
        assert {"dispensed", "expired", "active"} <= statuses
        assert any(len(v) == 2 for v in by_rx.values()), "some were dispensed in two visits"


def test_claim_lines_are_the_reimbursed_dispensings_fund_shares() -> None:
    with loaded() as (url, _, counts):
        lines = _rows(
            url,
            "SELECT l.amount, l.person_id, l.status, d.reimbursed_amount, d.person_id, "
            "d.facility_id, d.dispensed_at, c.facility_id, c.month, c.status, p.reimbursed "
            "FROM reimbursement_claim_line l JOIN dispensing d ON d.id = l.dispensing_id "
            "JOIN reimbursement_claim c ON c.id = l.claim_id "
            "JOIN prescription p ON p.id = d.prescription_id",
        )
        reimbursed = _rows(
            url,
            "SELECT count(*) FROM dispensing d JOIN prescription p ON p.id = d.prescription_id "
            "WHERE p.reimbursed",
        )[0][0]
        assert len(lines) == reimbursed == counts["reimbursement_claim_line"] > 0
        for (
            amount,
            person,
            status,
            fund,
            d_person,
            pharmacy,
            at,
            c_pharmacy,
            month,
            c_status,
            r,
        ) in lines:
            assert r
            assert amount == fund
            assert person == d_person
            assert status == "entered"
            assert pharmacy == c_pharmacy
            day = prescription.local_day(at if not isinstance(at, str) else _parse(at), "UZ")
            assert _day(month) == prescription.claim_month(day)
            assert (c_status == "open") == (_day(month) == AS_OF.replace(day=1))


def _parse(v: str) -> Any:
    from datetime import UTC, datetime

    d = datetime.fromisoformat(v)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def test_the_same_seed_gives_the_same_prescriptions() -> None:
    sql = "SELECT * FROM prescription ORDER BY id"
    with loaded(seed=9, people=600) as (url, _, _):
        a = _rows(url, sql)
    with loaded(seed=9, people=600) as (url, _, _):
        b = _rows(url, sql)
    with loaded(seed=10, people=600) as (url, _, _):
        c = _rows(url, sql)
    assert a == b
    assert a != c


@pytest.mark.anyio
async def test_the_apps_services_read_the_synthetic_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # the pharmacist's lookup judges validity against the real today
    today = date.today()
    with loaded(as_of=today) as (url, pop, _):
        rx = _rows(
            url,
            "SELECT id, code, person_id, facility_id, status FROM prescription "
            "WHERE status = 'active' ORDER BY id LIMIT 1",
        )[0]
        i = pop.person_id.index(rx.person_id)
        national_id = pop.national_id[i]
        pharmacy = next(f for f in pop.facilities if f.kind == "pharmacy")
        sessions = session_factory(url)
        pharmacist = Principal(
            user_id=0,
            username="synth-test-pharmacist",
            role="pharmacist",
            session_id="t",
            facility_id=pharmacy.id,
        )
        async with sessions() as s:
            view = await prescription.find_for_dispensing(
                s, pharmacist, rx.code.replace("-", "").lower(), national_id
            )
            assert view.prescription_id == rx.id
            assert view.refusal is None
            assert view.remaining_units > 0
            doctor = Principal(
                user_id=0,
                username="synth-test-doctor",
                role="family_doctor",
                session_id="t",
                facility_id=rx.facility_id,
            )
            listed = await prescription.list_prescriptions(s, doctor, rx.person_id)
            assert rx.id in {p.id for p in listed}
            citizen = Principal(
                user_id=0,
                username="synth-test-citizen",
                role="citizen",
                session_id="t",
                person_id=rx.person_id,
            )
            mine = await prescription.my_prescriptions(s, citizen, today=today)
            assert rx.code in {p.code for p in mine}
            # the monthly outlier job runs on synthetic claims and flags lines; a second
            # run over the same month flags nothing again (a line carries a rule once).
            # A small synthetic population has few peers: a low bar makes outliers exist.
            from salomat.domains.prescription.service import claims

            cfg = claims.rules_config()
            low = {
                **cfg,
                "prescriber_outlier": {
                    **cfg["prescriber_outlier"],
                    "k": 1.0,
                    "min_prescriptions": 1,
                    "min_peers": 2,
                },
            }
            monkeypatch.setattr(claims, "rules_config", lambda country=None: low)
            last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
            assert await prescription.flag_outliers(s, last_month) > 0
            assert await prescription.flag_outliers(s, last_month) == 0
            await s.rollback()
        await get_engine(url).dispose()
