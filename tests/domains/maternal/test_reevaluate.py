"""``salomat maternal reevaluate``: advice that changes with time alone (synchronous: the CLI
runs ``asyncio.run`` itself), on a scratch database of its own."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from salomat.core.security import Principal
from salomat.domains.maternal import service
from salomat.domains.maternal.models import AdviceItem, Pregnancy
from salomat.domains.maternal.schemas import PregnancyIn
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn, PersonIn
from tests.factories import unique, unique_name
from tests.test_cli import _env, invoke, run, scratch_url

__all__ = ["scratch_url"]

TODAY = date.today()


def register(url: str, weeks: int) -> int:
    """A woman of a new polyclinic, registered today at ``weeks`` weeks, never seen since."""

    async def work(s: Any) -> int:
        code = unique("RE-")
        fac = await registry.create_facility(
            s, FacilityIn(code=code, name="polyclinic", kind="family_polyclinic")
        )
        system = Principal(user_id=0, username="test", role="registrar", session_id="t")
        woman = await registry.register_person(
            s,
            system,
            PersonIn(
                family_name=unique_name("Ka"),
                given_name=unique_name("Di"),
                birth_date=date(1995, 2, 3),
                sex="female",
                attached_facility_code=code,
            ),
        )
        doctor = Principal(
            user_id=0,
            username="test-doctor",
            role="family_doctor",
            session_id="t",
            facility_id=fac.id,
            facility_code=code,
        )
        p = await service.open_pregnancy(
            s,
            doctor,
            woman.id,
            PregnancyIn(lmp=TODAY - timedelta(weeks=weeks), gravida=1, parity=0),
        )
        return p.id

    return int(run(work, url))


def let_time_pass(url: str, pregnancy_id: int, days: int) -> None:
    """As if the registration had been ``days`` days ago: every date moves back."""

    async def shift(s: Any) -> None:
        p = await s.get(Pregnancy, pregnancy_id)
        back = timedelta(days=days)
        p.lmp, p.edd, p.registered_on = p.lmp - back, p.edd - back, p.registered_on - back

    run(shift, url)


def state(url: str, pregnancy_id: int) -> tuple[set[str], str | None, int]:
    async def work(s: Any) -> tuple[set[str], str | None, int]:
        codes = set(
            await s.scalars(
                select(AdviceItem.code).where(
                    AdviceItem.pregnancy_id == pregnancy_id, AdviceItem.active.is_(True)
                )
            )
        )
        p = await s.get(Pregnancy, pregnancy_id)
        return codes, p.risk_level, p.version

    return run(work, url)  # type: ignore[no-any-return]


def test_a_contact_becomes_overdue_with_time_and_the_nightly_run_says_so(
    scratch_url: str, tmp_path: Path
) -> None:
    env = _env(scratch_url, tmp_path)
    overdue = register(scratch_url, weeks=10)
    fresh = register(scratch_url, weeks=8)
    codes, _, _ = state(scratch_url, overdue)
    assert "contact_overdue" not in codes
    fresh_version = state(scratch_url, fresh)[2]

    # four weeks later she is at 14 weeks: the 12-week contact is overdue
    let_time_pass(scratch_url, overdue, 28)
    r = invoke(["maternal", "reevaluate", "--batch", "1"], env=env)
    assert r.exit_code == 0, r.output
    assert "Re-evaluated 2 current pregnancies" in r.output
    assert "1 got new advice" in r.output
    codes, _, version = state(scratch_url, overdue)
    assert "contact_overdue" in codes
    # the other woman's advice did not change: nothing stored for her
    assert state(scratch_url, fresh)[2] == fresh_version

    # a second run the same day changes nothing
    again = invoke(["maternal", "reevaluate"], env=env)
    assert again.exit_code == 0, again.output
    assert "Re-evaluated 2 current pregnancies: 0 changed risk level, 0 got new advice" in (
        again.output
    )
    assert state(scratch_url, overdue)[2] == version


def test_the_command_is_listed_and_refuses_a_bad_batch(scratch_url: str, tmp_path: Path) -> None:
    env = _env(scratch_url, tmp_path)
    r = invoke(["maternal", "--help"], env=env)
    assert r.exit_code == 0
    assert "reevaluate" in r.output
    bad = invoke(["maternal", "reevaluate", "--batch", "0"], env=env)
    assert bad.exit_code == 2
    empty = invoke(["maternal", "reevaluate"], env=env)
    assert empty.exit_code == 0, empty.output
    assert "Re-evaluated 0 current pregnancies" in empty.output
