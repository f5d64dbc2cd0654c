"""Batch deduplication with Splink, and the properties of the registration-time score."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from salomat.core.db import session_factory, utcnow
from salomat.core.security import Principal
from salomat.domains.registry import service
from salomat.domains.registry.models import DuplicatePair, Person
from salomat.domains.registry.schemas import PersonIn
from salomat.domains.registry.service import linkage
from tests.factories import unique_name
from tests.own_database import own_database_fixtures

pytestmark = pytest.mark.anyio

# deduplication links every person in the registry: a database of its own keeps its cost
# what this module registered, not the whole run
own_database, app = own_database_fixtures("salomat_linkage")
CLERK = Principal(user_id=0, username="test-linkage", role="registrar", session_id="t")
GIVEN = ["Alisher", "Bobur", "Sardor", "Otabek", "Rustam", "Jamshid", "Dilshod", "Akmal"]


async def register(session, family: str, given_name: str, birth: date, **kw) -> int:
    data = PersonIn(
        family_name=family,
        given_name=given_name,
        birth_date=birth,
        sex=kw.pop("sex", "male"),
        duplicate_reason="test: synthetic population",
        **kw,
    )
    return (await service.register_person(session, CLERK, data)).id


async def population(n: int, seed: int) -> dict[str, int]:
    """``n`` distinct synthetic people, and two planted duplicates written differently."""
    rng = random.Random(seed)
    async with session_factory()() as s:
        for _ in range(n):
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(30_000))
            await register(s, unique_name("Ka"), rng.choice(GIVEN), born)
        family = unique_name("Us")  # Latin letters only: has a clean Cyrillic form
        planted = {
            "latn": await register(
                s, family, "Gulnora", date(1987, 7, 14), sex="female", patronymic="Rustamovna"
            ),
            # the same woman typed in Cyrillic at another polyclinic
            "cyrl": await register(
                s,
                _to_cyrl(family),
                "Гулнора",
                date(1987, 7, 14),
                sex="female",
                patronymic="Рустамовна",
            ),
            "day": await register(s, "Qodirov", "Javohir", date(1990, 8, 12)),
            # day and month swapped, and a spelling variant of the family name
            "month": await register(s, "Кодиров", "Жавохир", date(1990, 12, 8)),
        }
        await s.commit()
    return planted


def _to_cyrl(latin: str) -> str:
    from salomat.country import names

    return names.latn_to_cyrl(latin, "UZ")


async def pairs_of(ids: list[int]) -> dict[tuple[int, int], DuplicatePair]:
    async with session_factory()() as s:
        rows = await s.scalars(
            select(DuplicatePair).where(
                DuplicatePair.person_a_id.in_(ids), DuplicatePair.person_b_id.in_(ids)
            )
        )
        return {(p.person_a_id, p.person_b_id): p for p in rows.all()}


async def dedup(**kw) -> object:
    async with session_factory()() as s:
        summary = await service.dedup_registry(s, **kw)
        await s.commit()
    return summary


async def test_splink_finds_planted_duplicates_across_scripts_and_keeps_reviews():
    planted = await population(300, seed=11)
    stages: list[str] = []
    summary = await dedup(threshold=0.9, progress=lambda stage, done, total: stages.append(stage))
    assert {"read", "link", "write"} <= set(stages)
    assert summary.people >= 304
    assert summary.compared > 0
    found = await pairs_of(list(planted.values()))
    script = tuple(sorted((planted["latn"], planted["cyrl"])))
    swapped = tuple(sorted((planted["day"], planted["month"])))
    assert script in found, summary
    assert swapped in found, summary
    assert found[script].probability >= 0.9
    assert found[script].status == "open"
    # nothing else among the four
    assert set(found) == {script, swapped}

    # a reviewed pair is left alone; an open one gets the new run id
    async with session_factory()() as s:
        await service.mark_distinct(s, CLERK, found[swapped].id)
        await s.commit()
    again = await dedup(threshold=0.9)
    after = await pairs_of(list(planted.values()))
    assert after[swapped].status == "distinct"
    assert after[swapped].run_id == summary.run_id
    assert after[script].run_id == again.run_id
    assert again.new_pairs == 0
    assert again.left_alone >= 1


async def test_a_merged_record_is_not_linked_again():
    async with session_factory()() as s:
        family = unique_name("Me")
        a = await register(s, family, "Sardor", date(1979, 3, 3))
        b = await register(s, family, "Sardor", date(1979, 3, 3))
        await service.merge_persons(s, CLERK, a, b, "test: the same man twice")
        await s.commit()
    await dedup()
    assert (min(a, b), max(a, b)) not in {
        k for k, p in (await pairs_of([a, b])).items() if p.status == "open"
    }


async def test_training_runs_when_the_registry_is_large_enough(monkeypatch):
    await population(60, seed=5)
    monkeypatch.setattr(linkage, "TRAIN_FROM", 50)
    summary = await dedup(threshold=0.95)
    assert summary.trained


async def test_a_threshold_out_of_range_is_refused():
    from salomat.core.errors import Invalid

    async with session_factory()() as s:
        with pytest.raises(Invalid):
            await service.dedup_registry(s, threshold=1.5)


# ---- score_pair properties -------------------------------------------------------------

NAMES = st.sampled_from(["Karimov", "Karimova", "Каримов", "Rahimov", "Yusupov", "Юсупов"])
GIVENS = st.sampled_from(["Jasur", "Жасур", "Dilnoza", "Дилноза", "Bobur"])
DAYS = st.dates(min_value=date(1930, 1, 1), max_value=date(2024, 12, 31))
SEX = st.sampled_from(["male", "female"])


def stored(family: str, given_name: str, birth: date, sex: str) -> Person:
    from salomat.country import names

    return Person(
        id=1,
        family_name=family,
        given_name=given_name,
        patronymic=None,
        name_script=names.script_of(family + given_name) or "latn",
        birth_date=birth,
        sex=sex,
        national_id=None,
        created_at=utcnow(),
        updated_at=utcnow(),
    )


@settings(max_examples=200, deadline=None)
@given(NAMES, GIVENS, DAYS, SEX, NAMES, GIVENS, DAYS, SEX)
def test_score_pair_is_symmetric(f1, g1, d1, s1, f2, g2, d2, s2):
    one = service.score_pair(
        PersonIn(family_name=f1, given_name=g1, birth_date=d1, sex=s1), stored(f2, g2, d2, s2)
    )
    two = service.score_pair(
        PersonIn(family_name=f2, given_name=g2, birth_date=d2, sex=s2), stored(f1, g1, d1, s1)
    )
    assert one[0] == two[0]


@settings(max_examples=200, deadline=None)
@given(NAMES, GIVENS, DAYS, SEX, NAMES, GIVENS, DAYS, SEX)
def test_agreeing_on_more_never_lowers_the_score(f1, g1, d1, s1, f2, g2, d2, s2):
    new = PersonIn(family_name=f1, given_name=g1, birth_date=d1, sex=s1)
    base = service.score_pair(new, stored(f2, g2, d2, s2))[0]
    assert service.score_pair(new, stored(f2, g2, d1, s2))[0] >= base  # same birth date
    assert service.score_pair(new, stored(f2, g2, d2, s1))[0] >= base  # same sex
    assert service.score_pair(new, stored(f1, g1, d1, s1))[0] == 1.0
    assert 0.0 <= base <= 1.0


# ---- registration candidates: which registered people are scored at all ----------------

PATRONYMICS = st.sampled_from([None, "Rustamovich", "Рустамович", "Alisherovna"])


@settings(max_examples=300, deadline=None)
@given(NAMES, GIVENS, PATRONYMICS, DAYS, SEX, NAMES, GIVENS, PATRONYMICS, DAYS, SEX)
def test_a_far_birth_date_reaches_the_threshold_only_with_the_same_name(
    f1, g1, p1, d1, s1, f2, g2, p2, d2, s2
):
    """What the narrow blocks of ``find_candidates`` rely on: a stored person born on
    another day, not the swapped one and not in the same month, can reach
    ``SHOW_FROM`` only with the same family and given name skeletons."""
    from salomat.country import names

    new = PersonIn(family_name=f1, given_name=g1, patronymic=p1, birth_date=d1, sex=s1)
    old = stored(f2, g2, d2, s2)
    old.patronymic = p2
    far = (
        d2 != d1
        and d2 != service.swapped_day_month(d1)
        and (d2.year, d2.month) != (d1.year, d1.month)
    )
    if far and service.score_pair(new, old)[0] >= service.SHOW_FROM:
        assert names.skeleton(f1) == names.skeleton(f2)
        assert names.skeleton(g1) == names.skeleton(g2)


async def test_registration_finds_a_namesake_born_months_apart_and_a_relative_born_the_same_month():
    family = unique_name("Nb")
    async with session_factory()() as s:
        namesake = await register(s, family, "Jasur", date(1991, 2, 20))
        same_month = await register(s, family, "Jasurbek", date(1992, 6, 3))
        other = await register(s, family, "Bobur", date(1992, 1, 15))  # can't reach 0.6
        found = await service.find_candidates(
            s,
            CLERK,
            PersonIn(
                family_name=family, given_name="Jasur", birth_date=date(1992, 6, 28), sex="male"
            ),
        )
        await s.rollback()
    ids = {c.person.id for c in found}
    assert namesake in ids  # another month, a year apart: same family and given name
    assert same_month in ids  # same month, similar given name
    assert other not in ids
