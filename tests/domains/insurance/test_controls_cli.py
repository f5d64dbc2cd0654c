"""``salomat insurance controls``: the nightly control run from cron (synchronous: the
CLI runs ``asyncio.run`` itself), on a scratch database of its own.

Lines are stored as rows, without the immediate rules a submission runs (as lines of two
claims that crossed each other would be): only the nightly run flags them.
"""

from __future__ import annotations

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


def test_the_nightly_run_flags_last_month_and_this_month(scratch_url: str, tmp_path: Path):
    env = _env(scratch_url, tmp_path)
    this = month_of(local_today())
    last = add_months(this, -1)
    older = add_months(this, -2)
    last_ids = twice(scratch_url, last + timedelta(days=3))
    this_ids = twice(scratch_url, this)
    older_ids = twice(scratch_url, older)

    r = invoke(["insurance", "controls"], env=env)
    assert r.exit_code == 0, r.output
    assert f"{last:%Y-%m}: 2 line(s), 1 newly flagged; rules fired: duplicate 1" in r.output
    assert f"{this:%Y-%m}: 2 line(s), 1 newly flagged; rules fired: duplicate 1" in r.output
    assert statuses(scratch_url, last_ids) == [("entered", []), ("flagged", ["duplicate"])]
    assert statuses(scratch_url, this_ids) == [("entered", []), ("flagged", ["duplicate"])]
    assert statuses(scratch_url, older_ids) == [("entered", []), ("entered", [])]

    # an older month by name; again: nothing flagged twice
    r = invoke(["insurance", "controls", "--month", f"{older:%Y-%m}"], env=env)
    assert r.exit_code == 0, r.output
    assert f"{older:%Y-%m}: 2 line(s), 1 newly flagged" in r.output
    again = invoke(["insurance", "controls"], env=env)
    assert again.exit_code == 0, again.output
    assert f"{this:%Y-%m}: 2 line(s), 0 newly flagged" in again.output


def test_a_bad_month_is_named(scratch_url: str, tmp_path: Path):
    env = _env(scratch_url, tmp_path)
    for bad in ("October", "9999-12"):
        r = invoke(["insurance", "controls", "--month", bad], env=env)
        assert r.exit_code == 2, r.output
        assert "is not a month from 1900-01 to 9998-12" in r.output
    r = invoke(["insurance", "--help"], env=env)
    assert "controls" in r.output
