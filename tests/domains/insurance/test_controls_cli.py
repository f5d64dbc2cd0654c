"""``salomat insurance controls``: the nightly control run from cron (synchronous: the
CLI runs ``asyncio.run`` itself), on a scratch database of its own.

Lines are stored as rows, without the immediate rules a submission runs (as lines of two
claims that crossed each other would be): only the nightly run flags them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from salomat.core.db import utcnow
from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from salomat.domains.insurance.service import add_months, month_of
from salomat.domains.insurance.service.claims import local_today
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn, PersonIn
from tests.factories import unique, unique_name
from tests.test_cli import _env, invoke, run, scratch_url

__all__ = ["scratch_url"]

REGISTRAR = Principal(user_id=0, username="test", role="registrar", session_id="t")


def twice(url: str, day: date) -> list[int]:
    """One person's EMERG-CALL on ``day`` claimed on two lines, neither flagged yet."""

    async def work(s: Any) -> list[int]:
        fac = await registry.create_facility(
            s, FacilityIn(code=unique("IC-"), name="polyclinic", kind="family_polyclinic")
        )
        person = await registry.register_person(
            s,
            REGISTRAR,
            PersonIn(
                family_name=unique_name("Ka"),
                given_name=unique_name("Di"),
                birth_date=date(1960, 2, 3),
                sex="female",
            ),
        )
        claim = ServiceClaim(
            facility_id=fac.id,
            month=month_of(day),
            status="submitted",
            submitted_by="test",
            submitted_at=utcnow(),
        )
        s.add(claim)
        await s.flush()
        lines = [
            ClaimLine(
                claim_id=claim.id,
                facility_id=fac.id,
                person_id=person.id,
                service_code="EMERG-CALL",
                package="guaranteed",
                service_on=day,
                quantity=1,
                amount_claimed=310_000_00,
                status="entered",
                flags=[],
            )
            for _ in range(2)
        ]
        s.add_all(lines)
        await s.flush()
        return [li.id for li in lines]

    return list(run(work, url))


def statuses(url: str, ids: list[int]) -> list[tuple[str, list[str]]]:
    async def work(s: Any) -> list[tuple[str, list[str]]]:
        rows = await s.execute(
            select(ClaimLine.status, ClaimLine.flags).where(ClaimLine.id.in_(ids))
            .order_by(ClaimLine.id)
        )  # fmt: skip
        return [(st, [f["rule"] for f in fl or []]) for st, fl in rows.all()]

    return list(run(work, url))


def test_a_month_by_name_is_run_alone_and_again_safely(scratch_url: str, tmp_path: Path):
    env = _env(scratch_url, tmp_path)
    asked, before, after = date(2001, 4, 1), date(2001, 3, 1), date(2001, 5, 1)
    asked_ids = twice(scratch_url, asked + timedelta(days=3))
    before_ids = twice(scratch_url, before + timedelta(days=30))
    after_ids = twice(scratch_url, after)

    r = invoke(["insurance", "controls", "--month", "2001-04"], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "2001-04: 2 line(s), 1 newly flagged; rules fired: duplicate 1"
    assert statuses(scratch_url, asked_ids) == [("entered", []), ("flagged", ["duplicate"])]
    assert statuses(scratch_url, before_ids) == [("entered", []), ("entered", [])]
    assert statuses(scratch_url, after_ids) == [("entered", []), ("entered", [])]

    again = invoke(["insurance", "controls", "--month", "2001-04"], env=env)
    assert again.exit_code == 0, again.output
    assert "2001-04: 2 line(s), 0 newly flagged" in again.output


_REPORTED = re.compile(r"^([0-9]{4})-([0-9]{2}): ", re.MULTILINE)


def test_by_default_last_month_and_this_month_are_run(scratch_url: str, tmp_path: Path):
    """This month by the clock the command reads (the country's today, ``local_today``),
    read before and after the call: the command reports two consecutive months, the
    later one this month (at a month's turn, either side of it), and the lines of the
    month read before are flagged in one of them."""
    env = _env(scratch_url, tmp_path)
    before = month_of(local_today())
    ids = twice(scratch_url, before)
    r = invoke(["insurance", "controls"], env=env)
    after = month_of(local_today())
    assert r.exit_code == 0, r.output
    reported = [date(int(y), int(m), 1) for y, m in _REPORTED.findall(r.output)]
    assert len(reported) == 2, r.output
    assert add_months(reported[0], 1) == reported[1]
    assert reported[1] in (before, after)
    assert before in reported
    assert f"{before:%Y-%m}: 2 line(s), 1 newly flagged; rules fired: duplicate 1" in r.output
    assert statuses(scratch_url, ids) == [("entered", []), ("flagged", ["duplicate"])]


def test_a_bad_month_is_named(scratch_url: str, tmp_path: Path):
    env = _env(scratch_url, tmp_path)
    for bad in ("October", "9999-12"):
        r = invoke(["insurance", "controls", "--month", bad], env=env)
        assert r.exit_code == 2, r.output
        assert "is not a month from 1900-01 to 9998-12" in r.output
    r = invoke(["insurance", "--help"], env=env)
    assert "controls" in r.output
