"""The demo insurance fund of each pack (the ``insurance`` section of demo.yaml): what the
fund's analyst, a provider and the citizen see after `salomat demo load`, loaded by the
same code into a database of its own. The expected statuses follow from the law's rules
(grace of 3 months after the last month paid, the 12-month advance from the month after
the payment, a protected category) applied by hand to the file's months."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.service.demo import load_demo_insurance
from salomat.domains.insurance.service.status import insurance_status
from salomat.domains.registry import service as registry

pytestmark = pytest.mark.anyio


#: the demo.yaml sections the insurance fund's demo does not need (emptied for the load)
BARE = ("users", "relations", "pregnancies", "immunizations", "sick_leave", "sanatorium")


@pytest.fixture
def demo() -> Iterator[ExitStack]:
    """Where a test's copy of the loaded demo lives until it ends (``_load``)."""
    with ExitStack() as stack:
        yield stack


def _country(monkeypatch: pytest.MonkeyPatch, cc: str) -> None:
    monkeypatch.setenv("SALOMAT_COUNTRY", cc)
    get_settings.cache_clear()


def _end_of_month(today: date, months: int) -> date:
    """The last day of the month ``months`` from this one."""
    y, m = divmod(today.month - 1 + months, 12)
    year, month = today.year + y, m + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def _hold_loading_day(monkeypatch: pytest.MonkeyPatch) -> date:
    """The loader's day (today in the pack's zone), held: the statuses are read for the
    day the file's months were counted from, even when the clock passes midnight."""
    from salomat.domains.insurance.service import demo

    day = pack.today(get_settings().country)
    monkeypatch.setattr(demo, "_today", lambda: day)
    return day


def _load(demo: ExitStack) -> tuple[str, dict[str, Any]]:
    """A database of its own where the country's demo is loaded (`salomat demo load`,
    without the sections ``BARE``: a copy of the run's loaded demo, tests/conftest.py
    ``demo_database``), and the demo file."""
    from tests.conftest import demo_database

    country = get_settings().country
    url, _ = demo.enter_context(demo_database("salomat_insurance_demo", country, without=BARE))
    return url, pack.demo(country)


async def _lines(s: Any) -> list[dict[str, Any]]:
    rows = await s.execute(
        text(
            "SELECT l.service_code, l.status, l.flags, p.national_id FROM ins_claim_line l "
            "JOIN person p ON p.id = l.person_id ORDER BY l.id"
        )
    )
    return [dict(r._mapping) for r in rows]


def _rules(line: dict[str, Any]) -> set[str]:
    import json

    flags = line["flags"]
    flags = json.loads(flags) if isinstance(flags, str) else flags
    return {f["rule"] for f in flags}


async def _settlement(s: Any, polyclinic: str, today: date) -> tuple[int, int]:
    """Last month's services and pending lines of the polyclinic's settlement."""
    fid = await registry.facility_id_by_code(s, polyclinic)
    last = date.fromordinal(today.replace(day=1).toordinal() - 1).replace(day=1)
    rows = await s.execute(
        text("SELECT services FROM ins_settlement WHERE facility_id = :f AND month = :m"),
        {"f": fid, "m": last},
    )
    (services,) = rows.one()
    pending = await s.scalar(
        text("SELECT count(*) FROM ins_claim_line WHERE facility_id = :f AND status = 'flagged'"),
        {"f": fid},
    )
    return int(services), int(pending)


ANALYST = Principal(user_id=0, username="t-demo", role="insurance_analyst", session_id="t")


async def test_kz_demo_shows_each_status_case_and_flagged_claims(demo, monkeypatch):
    _country(monkeypatch, "KZ")
    today = _hold_loading_day(monkeypatch)
    scratch, data = _load(demo)
    async with session_factory(scratch)() as s:

        async def status(nid: str) -> Any:
            return await insurance_status(s, ANALYST, nid, today)

        # an employee whose employer pays every month (the last paid: last month)
        employee = await status("870321340788")
        assert (employee.insured, employee.basis) == (True, "contribution")
        assert employee.until == _end_of_month(today, -1 + 3)
        # the employer stopped after the month three months ago: insured through the
        # three grace months, to the end of this one
        stopped = await status("950917319767")
        assert (stopped.insured, stopped.basis) == (True, "contribution")
        assert stopped.until == _end_of_month(today, 0)
        # paid 12 months in advance last month: this month to 11 months on, then grace
        advance = await status("831123350704")
        assert (advance.insured, advance.basis) == (True, "contribution")
        assert advance.until == _end_of_month(today, 11 + 3)
        # stopped paying for herself eight months ago: grace ended five months ago
        lapsed = await status("930211497119")
        assert not lapsed.insured
        assert lapsed.not_insured_since == date.fromordinal(
            _end_of_month(today, -5).toordinal() + 1
        )
        # a pensioner and a mother on childcare leave: the state's protected categories
        pensioner = await status("520425391337")
        assert (pensioner.insured, pensioner.category) == (True, "pensioner")
        mother = await status("910709471010")
        assert (mother.insured, mother.category) == (True, "childcare_leave")
        for st in (employee, stopped, advance, lapsed, pensioner, mother):
            assert st.explanation

        lines = await _lines(s)
        assert len(lines) == 8
        flagged = {
            (li["national_id"], li["service_code"]): _rules(li)
            for li in lines
            if li["status"] == "flagged"
        }
        assert flagged == {
            ("870321340788", "LAB-CBC"): {"duplicate"},
            ("930211497119", "CONS-ENDO"): {"uninsured"},
            ("441027443219", "EMERG-CALL"): {"after_death"},
        }
        assert sum(1 for li in lines if li["status"] == "entered") == 5
        # last month's draft settlement of the polyclinic: the five unflagged lines at the
        # pack's tariffs (CONS-CARDIO 4,800 + LAB-CBC 1,150 + MRI-BRAIN 38,000 + US-PELVIS
        # 5,200 + CONS-URO 4,600 KZT), the two flagged ones waiting for the reviewer
        assert await _settlement(s, data["polyclinic"], today) == (53_750_00, 2)

        # loading again adds nothing
        assert await load_demo_insurance(s, data["insurance"], {}) == 0
        await s.rollback()


async def test_uz_demo_everyone_covered_claims_flagged(demo, monkeypatch):
    _country(monkeypatch, "UZ")
    today = _hold_loading_day(monkeypatch)
    scratch, data = _load(demo)
    async with session_factory(scratch)() as s:
        st = await insurance_status(s, ANALYST, "41407872184457", today)
        assert (st.insured, st.basis) == (True, "universal")
        assert await s.scalar(text("SELECT count(*) FROM ins_contribution")) == 0
        assert await s.scalar(text("SELECT count(*) FROM ins_payer")) == 0
        lines = await _lines(s)
        assert len(lines) == 6
        flagged = {
            (li["national_id"], li["service_code"]): _rules(li)
            for li in lines
            if li["status"] == "flagged"
        }
        assert flagged == {
            ("31208902219715", "LAB-CBC"): {"duplicate"},
            ("42710442182713", "EMERG-CALL"): {"after_death"},
        }
        # CONS-CARDIO 80,000 + LAB-CBC 19,000 + US-PELVIS 87,000 + MRI-BRAIN 640,000 UZS
        assert await _settlement(s, data["polyclinic"], today) == (826_000_00, 1)
        await s.rollback()
