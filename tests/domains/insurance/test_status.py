"""Insured status through the API (KZ pack): the issue's three "done when" vectors with
the days around each boundary, what a provider, the fund's analyst and the citizen each
see, the benefit packages, UZ's universal cover, and a merge that moves the payments.

Contributions are inserted as rows (the payment files are slice A's); the expected
dates are computed by hand from the rules (Law No. 405-V art. 5 p. 2: 3 months of care
after the last month paid for; a resumed payment covers the arrears first, at most 12
months back; an independent payer's 12 months in advance start the next month)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from salomat.core.db import utcnow
from salomat.core.security import Principal
from tests.factories import national_id_for, unique, unique_name

pytestmark = pytest.mark.anyio

STATUS = "/api/v1/insurance/status"
ELIGIBILITY = "/api/v1/insurance/eligibility"
CLERK = Principal(user_id=0, username="t", role="registrar", session_id="t")


async def new_payer(db, kind: str = "employer", name: str | None = None) -> Any:  # type: ignore[no-untyped-def]
    from salomat.domains.insurance.models import Payer

    p = Payer(
        kind=kind,
        code=unique("P"),
        name=name or f"{unique_name('Qazaq')} LLP",
        created_at=utcnow(),
    )
    db.add(p)
    await db.flush()
    return p


async def pay(  # type: ignore[no-untyped-def]
    db, person_id: int, payer, kind: str, month: date, paid_on: date, amount: int = 425_000
) -> None:
    from salomat.domains.insurance.models import Contribution

    db.add(
        Contribution(
            person_id=person_id,
            payer_id=payer.id,
            kind=kind,
            month=month,
            amount=amount,
            paid_on=paid_on,
            recorded_by="test",
            recorded_at=utcnow(),
        )
    )
    await db.flush()


def month(year: int, m: int) -> date:
    return date(year, m, 1)


def months(first: date, n: int) -> list[date]:
    from salomat.domains.insurance.service.rules import add_months

    return [add_months(first, i) for i in range(n)]


async def kz_person(make_person, born: date = date(1985, 6, 15), sex: str = "female") -> Any:  # type: ignore[no-untyped-def]
    """A KZ person; an IIN has 10,000 serials a birth date and sex, so a clash with an
    earlier test's person is retried with another serial (refused before any write)."""
    from salomat.core.errors import Conflict

    for attempt in range(8):
        try:
            return await make_person(
                birth_date=born, sex=sex, national_id=national_id_for(born, sex, "KZ")
            )
        except Conflict:
            if attempt == 7:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
async def fund(kz, client, make_user, login):  # type: ignore[no-untyped-def]
    """A family doctor (a provider) and the fund's analyst, logged in under KZ."""
    doctor = await login(await make_user("family_doctor"))
    analyst = await login(await make_user("insurance_analyst"))
    return {"doctor": doctor, "analyst": analyst}


async def status(client, headers, person, on: date, **extra) -> dict:  # type: ignore[no-untyped-def]
    r = await client.get(
        STATUS, params={"national_id": person.national_id, "on": on.isoformat(), **extra},
        headers=headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


# ---- the three vectors ---------------------------------------------------------------


async def test_an_independent_payers_twelve_months_in_march_cover_april_to_march(
    client, db, fund, make_person
):
    p = await kz_person(make_person)
    me = await new_payer(db, "independent", name="Aigerim Nurlanovna")
    for m in months(month(2026, 4), 12):  # April 2026 .. March 2027, paid on 10 March 2026
        await pay(db, p.id, me, "independent", m, date(2026, 3, 10))
    await db.commit()
    before = await status(client, fund["analyst"], p, date(2026, 3, 31))
    assert (before["insured"], before["basis"]) == (False, "none")
    assert before["explanation"] == "Not insured yet: the first month paid for is April 2026."
    first = await status(client, fund["analyst"], p, date(2026, 4, 1))
    assert (first["insured"], first["basis"]) == (True, "contribution")
    # the last month paid for is March 2027; three months of care follow: to 30 June
    assert first["until"] == "2027-06-30"
    assert first["paid_for_month"] == "2027-03-01"
    assert first["payer"]["name"] == "Aigerim Nurlanovna"
    assert first["explanation"] == (
        "Insured until 30.06.2027: Aigerim Nurlanovna paid for March 2027."
    )
    assert (await status(client, fund["doctor"], p, date(2027, 3, 31)))["insured"]
    assert (await status(client, fund["doctor"], p, date(2027, 6, 30)))["insured"]
    after = await status(client, fund["doctor"], p, date(2027, 7, 1))
    assert (after["insured"], after["not_insured_since"]) == (False, "2027-07-01")


async def test_an_employee_whose_employer_stops_after_june_is_insured_through_september(
    client, db, fund, make_person
):
    p = await kz_person(make_person, sex="male")
    employer = await new_payer(db, "employer", name="Altyn Dala LLP")
    for m in months(month(2026, 1), 6):
        await pay(db, p.id, employer, "employer", m, m.replace(day=25))
    await db.commit()
    july = await status(client, fund["analyst"], p, date(2026, 7, 15))
    assert july["until"] == "2026-09-30"
    assert july["explanation"] == "Insured until 30.09.2026: Altyn Dala LLP paid for June 2026."
    for day, insured in (
        (date(2026, 9, 29), True),
        (date(2026, 9, 30), True),
        (date(2026, 10, 1), False),
    ):
        s = await status(client, fund["doctor"], p, day)
        assert s["insured"] is insured, day
    october = await status(client, fund["analyst"], p, date(2026, 10, 1))
    assert october["not_insured_since"] == "2026-10-01"
    assert october["explanation"] == (
        "Not insured since 01.10.2026: the last month paid for was June 2026 "
        "(Altyn Dala LLP); the 3 months of grace have passed."
    )


async def test_a_payment_after_a_fifteen_month_gap_covers_the_oldest_of_the_last_twelve(
    client, db, fund, make_person, make_user, login
):
    p = await kz_person(make_person)
    me = await new_payer(db, "independent", name="Dana Serikovna")
    await pay(db, p.id, me, "independent", month(2025, 1), date(2025, 1, 20))
    # nothing from February 2025 to April 2026 (15 months); then May 2026 is paid
    await pay(db, p.id, me, "independent", month(2026, 5), date(2026, 5, 5))
    await db.commit()
    s = await status(client, fund["analyst"], p, date(2026, 5, 20))
    # the payment went to May 2025 (12 months back), whose grace ended with August 2025
    assert (s["insured"], s["not_insured_since"]) == (False, "2025-09-01")
    assert "May 2025" in s["explanation"]
    citizen = await login(await make_user("citizen", person_id=p.id))
    r = await client.get("/api/v1/me/insurance", params={"on": "2026-05-20"}, headers=citizen)
    assert r.status_code == 200, r.text
    mine = r.json()[0]
    assert mine["own"] is True
    covers = {(x["month"], x["paid_on"]): x["covers_month"] for x in mine["payments"]}
    assert covers == {
        ("2026-05-01", "2026-05-05"): "2025-05-01",
        ("2025-01-01", "2025-01-20"): "2025-01-01",
    }
    assert all(x["payer"]["name"] == "Dana Serikovna" for x in mine["payments"])


# ---- who sees what ---------------------------------------------------------------------


async def test_a_provider_never_sees_the_payer_and_each_check_is_audited(
    client, db, fund, make_person
):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    p = await kz_person(make_person)
    employer = await new_payer(db, "employer", name="Secret Payer LLP")
    await pay(db, p.id, employer, "employer", month(2026, 3), date(2026, 3, 25))
    await db.commit()
    r = await client.get(
        STATUS, params={"national_id": p.national_id, "on": "2026-04-10"}, headers=fund["doctor"]
    )
    assert r.status_code == 200
    assert b"Secret Payer" not in r.content
    assert b"425000" not in r.content
    body = r.json()
    assert (body["insured"], body["until"], body["payer"]) == (True, "2026-06-30", None)
    assert body["explanation"] == "Insured until 30.06.2026: contributions are paid for March 2026."
    r = await client.get(
        ELIGIBILITY,
        params={"national_id": p.national_id, "on": "2026-04-10", "service": "MRI-BRAIN"},
        headers=fund["doctor"],
    )
    assert r.status_code == 200
    assert b"Secret Payer" not in r.content
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.purpose).where(
                AuditEvent.patient_id == p.id, AuditEvent.resource_type == "Coverage"
            )
        )
    ).all()
    assert rows == [("read", "insurance eligibility check")] * 2


async def test_an_unknown_national_id_is_404_and_a_bad_one_names_the_field(client, fund):
    r = await client.get(STATUS, params={"national_id": "990101300017"}, headers=fund["doctor"])
    assert r.status_code == 404
    r = await client.get(STATUS, params={"national_id": "12ab"}, headers=fund["doctor"])
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["national_id"]
    r = await client.get(
        STATUS, params={"national_id": "990101300017", "on": "2026-02-30"}, headers=fund["doctor"]
    )
    assert r.status_code == 422


async def test_a_citizen_sees_her_child_but_a_strangers_record_is_404(
    client, db, fund, make_person, make_user, login
):
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import RelationIn

    mother = await kz_person(make_person, born=date(1988, 2, 2))
    child = await kz_person(make_person, born=date(2019, 9, 9), sex="male")
    stranger = await kz_person(make_person)
    await registry.add_relation(
        db, CLERK, child.id, RelationIn(related_person_id=mother.id, kind="mother", document="BC-1")
    )
    await db.commit()
    citizen = await login(await make_user("citizen", person_id=mother.id))
    r = await client.get("/api/v1/me/insurance", params={"on": "2026-05-01"}, headers=citizen)
    assert r.status_code == 200, r.text
    people = r.json()
    assert [x["person_id"] for x in people] == [mother.id, child.id]
    kid = people[1]["status"]
    # a child under 18 is in the state's protected category until the day before 18
    assert (kid["insured"], kid["basis"], kid["category"]) == (True, "category", "child")
    assert kid["until"] == "2037-09-08"
    assert kid["explanation"] == "Insured until 08.09.2037 by the state as Children under 18."
    assert people[0]["status"]["explanation"] == "Not insured: no contribution has been paid."
    r = await client.get(f"/api/v1/me/insurance/{child.id}", headers=citizen)
    assert r.status_code == 200
    r = await client.get(f"/api/v1/me/insurance/{stranger.id}", headers=citizen)
    assert r.status_code == 404
    # a citizen has no provider's lookup
    r = await client.get(STATUS, params={"national_id": stranger.national_id}, headers=citizen)
    assert r.status_code == 403


# ---- benefit packages --------------------------------------------------------------------


async def test_the_insurance_package_needs_insurance_and_the_guaranteed_one_does_not(
    client, db, fund, make_person
):
    p = await kz_person(make_person)
    employer = await new_payer(db, "employer")
    await pay(db, p.id, employer, "employer", month(2026, 1), date(2026, 1, 25))
    await db.commit()

    async def check(service: str, on: str) -> dict:
        r = await client.get(
            ELIGIBILITY,
            params={"national_id": p.national_id, "service": service, "on": on},
            headers=fund["doctor"],
        )
        assert r.status_code == 200, r.text
        return r.json()

    # January paid: insured to 30 April 2026
    yes = await check("CONS-CARDIO", "2026-04-30")
    assert (yes["covered"], yes["service"]["package"]) == (True, "insurance")
    no = await check("CONS-CARDIO", "2026-05-01")
    assert no["covered"] is False
    assert no["reason"] == (
        "Not covered: the service is in Compulsory health insurance package and the "
        "person is not insured since 01.05.2026."
    )
    free = await check("EMERG-CALL", "2026-05-01")
    assert (free["covered"], free["service"]["package"]) == (True, "guaranteed")
    r = await client.get(
        ELIGIBILITY,
        params={"national_id": p.national_id, "service": "NOPE-1"},
        headers=fund["doctor"],
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["service"]


async def test_after_death_nothing_is_covered(client, db, fund, make_person):
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import DeathIn

    p = await kz_person(make_person)
    employer = await new_payer(db, "employer")
    await pay(db, p.id, employer, "employer", month(2026, 1), date(2026, 1, 25))
    await registry.register_death(
        db,
        CLERK,
        p.id,
        DeathIn(deceased_on=date(2026, 2, 10), cause="I21.9"),
        expected_version=p.version,
    )
    await db.commit()
    s = await status(client, fund["doctor"], p, date(2026, 2, 10))
    assert (s["insured"], s["until"]) == (True, "2026-02-10")
    s = await status(client, fund["doctor"], p, date(2026, 2, 11))
    assert (s["insured"], s["basis"]) == (False, "deceased")
    assert s["explanation"] == "Not insured: the person died on 10.02.2026."
    r = await client.get(
        ELIGIBILITY,
        params={"national_id": p.national_id, "service": "EMERG-CALL", "on": "2026-02-11"},
        headers=fund["doctor"],
    )
    assert r.json()["covered"] is False


# ---- UZ: universal ---------------------------------------------------------------------


async def test_in_uzbekistan_every_resident_is_covered(client, make_person, make_user, login):
    born = date(1990, 1, 1)
    p = await make_person(birth_date=born, sex="male", national_id=national_id_for(born, "male"))
    doctor = await login(await make_user("family_doctor"))
    r = await client.get(
        ELIGIBILITY, params={"national_id": p.national_id, "service": "MRI-BRAIN"}, headers=doctor
    )
    if r.status_code == 422:  # the UZ pack has its own service list
        r = await client.get(ELIGIBILITY, params={"national_id": p.national_id}, headers=doctor)
    assert r.status_code == 200, r.text
    s = r.json()["status"]
    assert (s["insured"], s["basis"], s["until"]) == (True, "universal", None)
    assert s["explanation"] == "Covered by the State Health Insurance Fund like every resident."


# ---- a merge -----------------------------------------------------------------------------


async def test_a_merge_moves_the_payments_and_an_unmerge_moves_them_back(
    client, db, fund, make_person
):
    from salomat.domains.registry import service as registry

    survivor = await kz_person(make_person, born=date(1979, 4, 4))
    twin = await make_person(
        family_name=survivor.family_name,
        given_name=survivor.given_name,
        birth_date=survivor.birth_date,
        sex=survivor.sex,
        duplicate_reason="test: the same woman registered twice",
    )
    employer = await new_payer(db, "employer", name="Merged Payer LLP")
    await pay(db, twin.id, employer, "employer", month(2026, 6), date(2026, 6, 25))
    await db.commit()
    assert not (await status(client, fund["analyst"], survivor, date(2026, 7, 1)))["insured"]
    merge = await registry.merge_persons(
        db, CLERK, survivor.id, twin.id, "the same woman registered twice"
    )
    await db.commit()
    s = await status(client, fund["analyst"], survivor, date(2026, 7, 1))
    assert (s["insured"], s["until"], s["payer"]["name"]) == (
        True,
        "2026-09-30",
        "Merged Payer LLP",
    )
    await registry.unmerge(db, CLERK, merge.id, "registered twice was a mistake after all")
    await db.commit()
    assert not (await status(client, fund["analyst"], survivor, date(2026, 7, 1)))["insured"]


# ---- a provider never learns the protected category ------------------------------------

#: the category codes and their names in the KZ pack (insurance.yaml), in en, ru and kk
PRISONER = ('"prisoner"', "Serving a sentence", "Лица, отбывающие наказание",
            "Жазасын өтеп жатқан адамдар")  # fmt: skip
CHILD = ('"child"', "Children under 18", "Дети до 18 лет", "18 жасқа толмаған балалар")


async def list_in(db, person_id: int, category: str, start_on: date) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.insurance.models import CategoryMember

    db.add(
        CategoryMember(
            person_id=person_id,
            category=category,
            start_on=start_on,
            end_on=None,
            recorded_by="test",
            recorded_at=utcnow(),
        )
    )
    await db.flush()


def named(text: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if w in text]


async def test_a_provider_reads_insured_by_the_state_and_never_the_category(
    client, db, fund, make_person
):
    inmate = await kz_person(make_person, born=date(1983, 3, 3), sex="male")
    await list_in(db, inmate.id, "prisoner", date(2026, 1, 1))
    child = await kz_person(make_person, born=date(2019, 9, 9), sex="male")
    await db.commit()
    for lang in ("en", "ru", "kk"):
        headers = {**fund["doctor"], "Accept-Language": lang}
        r = await client.get(
            STATUS, params={"national_id": inmate.national_id, "on": "2026-05-01"}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert named(r.text, PRISONER) == [], lang
        s = r.json()
        assert (s["insured"], s["basis"], s["category"], s["category_label"]) == (
            True, "state", None, None
        )  # fmt: skip
        r = await client.get(
            ELIGIBILITY,
            params={"national_id": inmate.national_id, "on": "2026-05-01", "service": "MRI-BRAIN"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["covered"] is True
        assert named(r.text, PRISONER) == [], lang
        r = await client.get(
            STATUS, params={"national_id": child.national_id, "on": "2026-05-01"}, headers=headers
        )
        assert named(r.text, CHILD) == [], lang
        assert (r.json()["basis"], r.json()["until"]) == ("state", "2037-09-08")
    s = await status(client, fund["doctor"], inmate, date(2026, 5, 1))
    assert (s["basis_label"], s["explanation"]) == ("insured by the state", "Insured by the state.")
    s = await status(client, fund["doctor"], child, date(2026, 5, 1))
    assert s["explanation"] == "Insured until 08.09.2037 by the state."
    # the fund's analyst keeps the category
    s = await status(client, fund["analyst"], inmate, date(2026, 5, 1))
    assert (s["basis"], s["category"], s["category_label"]) == (
        "category", "prisoner", "Serving a sentence"
    )  # fmt: skip
    assert s["explanation"] == "Insured by the state as Serving a sentence."


# ---- a merge moves the person's own payer --------------------------------------------------


async def test_a_merge_moves_her_own_payer_so_her_next_file_line_is_taken(
    client, db, fund, make_person
):
    from sqlalchemy import select

    from salomat.domains.insurance.models import Payer
    from salomat.domains.registry import service as registry

    survivor = await kz_person(make_person, born=date(1987, 8, 8))
    twin = await make_person(
        family_name=survivor.family_name,
        given_name=survivor.given_name,
        birth_date=survivor.birth_date,
        sex=survivor.sex,
        duplicate_reason="test: the same woman registered twice",
    )
    own = await new_payer(db, "independent", name="Her own payments")
    own.person_id = twin.id
    await db.commit()
    merge = await registry.merge_persons(
        db, CLERK, survivor.id, twin.id, "the same woman registered twice"
    )
    await db.commit()
    assert await db.scalar(select(Payer.person_id).where(Payer.id == own.id)) == survivor.id
    line = f"{own.code},{survivor.national_id},2026-06,4250.00,2026-06-10"
    body = f"payer,national_id,month,amount,paid_on\n{line}\n"
    r = await client.post(
        "/api/v1/insurance/payment-files", content=body.encode(), headers=fund["analyst"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 1
    s = await status(client, fund["analyst"], survivor, date(2026, 7, 1))
    assert (s["insured"], s["until"], s["payer"]["name"]) == (
        True, "2026-09-30", "Her own payments"
    )  # fmt: skip
    await registry.unmerge(db, CLERK, merge.id, "registered twice was a mistake after all")
    await db.commit()
    assert await db.scalar(select(Payer.person_id).where(Payer.id == own.id)) == twin.id


# ---- today is the country's ------------------------------------------------------------------


async def test_a_check_without_a_day_answers_for_the_local_day_in_almaty(
    client, db, fund, make_person, make_user, login, monkeypatch
):
    from datetime import UTC, datetime

    from salomat.domains.insurance.service import status as status_service

    p = await kz_person(make_person)
    employer = await new_payer(db, "employer")
    await pay(db, p.id, employer, "employer", month(2026, 2), date(2026, 2, 25))
    await db.commit()
    citizen = await login(await make_user("citizen", person_id=p.id))
    # February paid: insured to 31 May 2026. Kazakhstan is UTC+5 (UTC+6 with tzdata
    # older than 2024a): 19:30 UTC on 31 May is 00:30 (01:30) on 1 June in Almaty,
    # 17:00 UTC is 22:00 (23:00) on 31 May.
    for utc, day, insured in (
        (datetime(2026, 5, 31, 19, 30, tzinfo=UTC), "2026-06-01", False),
        (datetime(2026, 5, 31, 17, 0, tzinfo=UTC), "2026-05-31", True),
    ):
        monkeypatch.setattr(status_service, "_utcnow", lambda utc=utc: utc, raising=False)
        r = await client.get(STATUS, params={"national_id": p.national_id}, headers=fund["doctor"])
        assert r.status_code == 200, r.text
        assert (r.json()["on"], r.json()["insured"]) == (day, insured)
        r = await client.get("/api/v1/me/insurance", headers=citizen)
        assert r.status_code == 200, r.text
        assert (r.json()[0]["status"]["on"], r.json()[0]["status"]["insured"]) == (day, insured)
