"""The ``salomat`` command line: accounts, the demo region, backup and restore, serve.

The CLI runs ``asyncio.run`` itself, so these tests are synchronous (not anyio).
Commands that wipe or fill a database run against a scratch database of the
run's backend, named through ``SALOMAT_DATABASE_URL``; settings are cached, so
every invocation clears the cache before and after.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from salomat.cli import app
from salomat.core import backup
from salomat.core.config import get_settings
from salomat.core.db import dispose_engines, session_factory
from salomat.core.policy import Role, facility_required
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.schemas import UserIn
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn, PersonIn
from tests.conftest import migrated_sqlite, scratch_database
from tests.factories import PASSWORD, unique

MAIN_URL = os.environ["SALOMAT_DATABASE_URL"]
SYSTEM = Principal(user_id=0, username="test-cli", role="registrar", session_id="test")


def invoke(args: list[str], env: dict[str, str] | None = None, **kw: Any) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env, **kw)
    finally:
        get_settings.cache_clear()


def run(work: Callable[[Any], Awaitable[Any]], url: str | None = None) -> Any:
    """One committed unit of work from a synchronous test."""

    async def main() -> Any:
        try:
            async with session_factory(url)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await dispose_engines()

    return asyncio.run(main())


def _pg_admin(url: str) -> str:
    return url.replace("+psycopg", "")


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """A migrated database of this run's backend that a test may fill, wipe or restore
    (a copy of the run's migrated template)."""
    if MAIN_URL.startswith("sqlite"):
        yield migrated_sqlite(tmp_path / "scratch.sqlite3")
        return
    with scratch_database("salomat_scratch") as url:
        yield url


def _env(url: str, var_dir: Path, country: str = "UZ") -> dict[str, str]:
    return {
        "SALOMAT_DATABASE_URL": url,
        "SALOMAT_VAR_DIR": str(var_dir),
        "SALOMAT_COUNTRY": country,
    }


# ---- salomat user create --------------------------------------------------------


@pytest.fixture
def facility_code() -> str:
    code = unique("CLI-")

    async def work(s: Any) -> None:
        await registry.create_facility(
            s, FacilityIn(code=code, name="CLI polyclinic", kind="family_polyclinic")
        )

    run(work)
    return code


def _login(username: str, password: str, url: str | None = None) -> str:
    async def work(s: Any) -> str:
        return (await accounts.login(s, username, password, None)).access_token

    return run(work, url)


def test_user_create_makes_an_account_that_logs_in(facility_code):
    name = unique("nurse-")
    r = invoke(
        [
            "user",
            "create",
            "--username",
            name,
            "--role",
            "nurse",
            "--facility",
            facility_code,
            "--password",
            PASSWORD,
            "--full-name",
            "Jo'rayeva Muhabbat",
        ]
    )
    assert r.exit_code == 0, r.output
    assert f"Created user {name}" in r.output
    assert facility_code in r.output
    assert _login(name, PASSWORD)


def test_user_create_binds_an_employer_account_to_its_organisation():
    from salomat.domains.registry.schemas import EmployerIn
    from tests.factories import business_id_for

    number = business_id_for("UZ")

    async def work(s: Any) -> int:
        employer = await registry.create_employer(
            s, EmployerIn(business_id=number, name="Cli MChJ")
        )
        return employer.id

    employer_id = run(work)
    base = ["user", "create", "--role", "employer", "--password", PASSWORD, "--username"]
    r = invoke([*base, unique("emp-")])
    assert r.exit_code == 1
    assert "employer_business_id" in r.output
    name = unique("emp-")
    r = invoke([*base, name, "--employer", number])
    assert r.exit_code == 0, r.output
    assert f"employer {employer_id}" in r.output
    assert _login(name, PASSWORD)


def test_user_create_asks_for_the_password_hidden_and_confirmed():
    name = unique("admin-")
    r = invoke(
        ["user", "create", "--username", name, "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert r.exit_code == 0, r.output
    assert "Repeat for confirmation" in r.output
    assert PASSWORD not in r.output
    assert _login(name, PASSWORD)


def test_user_create_refuses_a_password_typed_differently_twice():
    r = invoke(
        ["user", "create", "--username", unique("admin-"), "--role", "admin"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert r.exit_code == 0, r.output
    assert "do not match" in r.output


def _flat(options: dict[str, str]) -> list[str]:
    return [part for pair in options.items() for part in pair]


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("unknown facility", "facility_code"),
        ("facility role without facility", "facility_code"),
        ("facility given to a national role", "facility_code"),
        ("duplicate username", "username"),
        ("citizen without person", "person_id"),
        ("short password", "password"),
        ("bad username", "username"),
    ],
)
def test_user_create_errors_name_the_field_and_exit_1(facility_code, case, field):
    name = unique("user-")
    args = {"--username": name, "--role": "nurse", "--password": PASSWORD}
    if case == "unknown facility":
        args["--facility"] = "NO-SUCH-CODE"
    elif case == "facility given to a national role":
        args |= {"--role": "analyst", "--facility": facility_code}
    elif case == "duplicate username":
        args |= {"--role": "admin"}
        assert invoke(["user", "create", *_flat(args)]).exit_code == 0
    elif case == "citizen without person":
        args["--role"] = "citizen"
    elif case == "short password":
        args |= {"--facility": facility_code, "--password": "short"}
    elif case == "bad username":
        args |= {"--facility": facility_code, "--username": "Has Spaces"}
    r = invoke(["user", "create", *_flat(args)])
    assert r.exit_code == 1, r.output
    assert "not created" in r.output
    assert re.search(rf"^\s*{field}: \S", r.output, re.M), r.output


def test_an_unknown_role_is_a_usage_error_listing_the_roles():
    r = invoke(["user", "create", "--username", unique("u-"), "--role", "boss"])
    assert r.exit_code == 2
    assert "family_doctor" in r.output


def test_a_bad_setting_is_named_before_anything_runs():
    r = invoke(["db", "current"], env={"SALOMAT_COUNTRY": "FR"})
    assert r.exit_code == 1
    assert "SALOMAT_COUNTRY" in r.output


# ---- salomat db ------------------------------------------------------------------


def test_db_current_names_the_head_revision():
    r = invoke(["db", "current"])
    assert r.exit_code == 0, r.output
    assert "(head)" in r.output


def test_db_upgrade_creates_the_schema_of_an_empty_sqlite_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'not-yet' / 'db.sqlite3'}"
    env = _env(url, tmp_path)
    assert "empty" in invoke(["db", "current"], env=env).output
    r = invoke(["db", "upgrade"], env=env)
    assert r.exit_code == 0, r.output
    assert backup.current_revision(url) == ",".join(backup.head_revisions(url))
    file = tmp_path / "not-yet" / "db.sqlite3"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert "(head)" in invoke(["db", "current"], env=env).output


def test_commands_on_an_unmigrated_database_say_to_upgrade(tmp_path):
    env = _env(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path)
    for args in (
        ["demo", "load"],
        ["user", "create", "--username", "someone", "--role", "admin", "--password", PASSWORD],
    ):
        r = invoke(args, env=env)
        assert r.exit_code == 1, r.output
        assert "salomat db upgrade" in r.output


# ---- the demo region -------------------------------------------------------------


def _iin_ok(nid: str, weights: list[int], second: list[int]) -> bool:
    digits = [int(c) for c in nid]
    r = sum(d * w for d, w in zip(digits[:11], weights, strict=True)) % 11
    if r == 10:
        r = sum(d * w for d, w in zip(digits[:11], second, strict=True)) % 11
    return r != 10 and r == digits[11]


def _pinfl_ok(nid: str, weights: list[int]) -> bool:
    digits = [int(c) for c in nid]
    total = sum(d * weights[i % len(weights)] for i, d in enumerate(digits[:13]))
    return total % 10 == digits[13]


def _encoded_birth_and_sex(country: str, nid: str) -> tuple[date, str]:
    """Birth date and sex as the national id encodes them (../shared/domain/national-ids.md)."""
    code = int(nid[0] if country == "UZ" else nid[6])
    century = 1800 + 100 * ((code - 1) // 2)
    sex = "male" if code % 2 else "female"
    if country == "UZ":
        day, month, year = int(nid[1:3]), int(nid[3:5]), int(nid[5:7])
    else:
        year, month, day = int(nid[0:2]), int(nid[2:4]), int(nid[4:6])
    return date(century + year, month, day), sex


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_demo_pack_is_valid_data(country):
    rules = pack.load(country)
    data = pack.demo(country)
    assert rules["code"] == country
    nid = rules["national_id"]
    codes = [f["code"] for f in data["facilities"]]
    assert len(codes) == len(set(codes))
    assert all(c.startswith(f"{country}-") for c in codes)
    assert data["polyclinic"] in codes
    for f in data["facilities"]:
        FacilityIn(code=f["code"], name=f["name"], kind=f["kind"])
    people = {p["national_id"]: p for p in data["people"]}
    assert len(people) == len(data["people"]) >= 15
    for p in data["people"]:
        person = PersonIn(**{"attached_facility_code": data["polyclinic"], **p})
        assert person.attached_facility_code in codes
        value = p["national_id"]
        assert re.fullmatch(nid["pattern"], value)
        assert len(value) == nid["length"]
        if country == "UZ":
            assert _pinfl_ok(value, nid["check_weights"]), value
        else:
            assert _iin_ok(value, nid["check_weights"], nid["check_weights_second"]), value
        assert _encoded_birth_and_sex(country, value) == (p["birth_date"], p["sex"]), value
    # the demo relations: parent and child are demo people, the citizen has children
    citizen = next(u["person"] for u in data["users"] if u["role"] == "citizen")
    assert any(r["parent"] == citizen for r in data["relations"])
    for rel in data["relations"]:
        assert rel["child"] in people
        assert rel["parent"] in people
        assert people[rel["child"]]["birth_date"] > people[rel["parent"]]["birth_date"]
    # the demo pregnancies: their women are demo people, their facilities demo facilities
    assert len(data["pregnancies"]) >= 6
    for preg in data["pregnancies"]:
        assert people[preg["woman"]]["sex"] == "female"
        assert preg["at"] in codes
        assert preg.get("birth", {}).get("at", preg["at"]) in codes
        assert preg.get("referral", {}).get("to", preg["at"]) in codes
        assert not ("birth" in preg and "close" in preg)
    # the demo sick leave: demo holders, the citizen holds one, a care certificate's child is
    # the holder's by a demo relation, shares go to demo employers (the employer account's)
    employer = next(u["employer"] for u in data["users"] if u["role"] == "employer")
    relations = {(r["parent"], r["child"]) for r in data["relations"]}
    holders = [c["person"] for c in data["sick_leave"]]
    assert set(holders) <= set(people)
    assert citizen in holders
    assert {c["reason"] for c in data["sick_leave"]} >= {"own_illness", "care", "maternity"}
    for c in data["sick_leave"]:
        if c["reason"] == "care":
            assert (c["person"], c["child"]) in relations
        if c["reason"] == "maternity":
            assert c["person"] in {p["woman"] for p in data["pregnancies"]}
    shared = [s["share"] for c in data["sick_leave"] for s in c.get("then", []) if "share" in s]
    assert employer in shared
    assert set(shared) <= {e["business_id"] for e in data["employers"]}
    roles = [u["role"] for u in data["users"]]
    assert set(roles) == {r.value for r in Role}
    usernames = [u["username"] for u in data["users"]]
    assert len(usernames) == len(set(usernames))
    # every role has one account, and obstetricians also work where referrals arrive: each
    # facility a demo referral goes to, every perinatal centre and screening centre
    assert all(roles.count(r.value) == 1 for r in Role if r != Role.obstetrician)
    receivers = {u.get("facility") for u in data["users"] if u["role"] == "obstetrician"}
    kinds = {f["code"]: f["kind"] for f in data["facilities"]}
    assert {
        c for c, k in kinds.items() if k in ("perinatal_centre", "screening_centre")
    } <= receivers
    assert {p["referral"]["to"] for p in data["pregnancies"] if "referral" in p} <= receivers
    own = set(rules["languages"]) - {"en"}
    assert all(u.get("language") in own for u in data["users"] if u["role"] == "obstetrician")
    for u in data["users"]:
        assert "password" not in u
        assert (
            (u.get("facility") in codes) if facility_required(u["role"]) else not u.get("facility")
        )
        assert (u.get("person") in people) == (u["role"] == "citizen")
        UserIn(
            username=u["username"],
            password=PASSWORD,
            role=u["role"],
            full_name=u["full_name"],
            language=u.get("language"),
        )
    assert rules["default_language"] in rules["languages"]


def _parse_logins(text: str) -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) == 4 and not line.startswith("#"):
            rows[cols[0]] = (cols[1], cols[2], cols[3])
    return rows


async def _inventory(s: Any) -> dict[str, Any]:
    from salomat.core.pagination import PageParams

    users = await accounts.list_users(s, PageParams(limit=100, offset=0))
    facilities = await registry.list_facilities(s, PageParams(limit=100, offset=0))
    return {
        "users": {u.username: u for u in users.items},
        "facilities": [f.code for f in facilities.items],
        "people": await registry.count_people(s),
    }


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_demo_load_fills_an_empty_database_once_and_its_logins_work(scratch_url, tmp_path, country):
    env = _env(scratch_url, tmp_path / "var", country)
    data = pack.demo(country)

    r = invoke(["demo", "load", "--no-vital-sample"], env=env)
    assert r.exit_code == 0, r.output
    logins = _parse_logins(r.output)
    assert {role for _, role, _ in logins.values()} == {role.value for role in Role}
    path = tmp_path / "var" / "demo-logins.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _parse_logins(path.read_text()) == logins
    passwords = [pw for pw, _, _ in logins.values()]
    assert len(set(passwords)) == len(passwords)

    first = run(_inventory, scratch_url)
    assert len(first["users"]) == len(data["users"])
    # the demo people, the babies born alive in the demo pregnancies (registered at birth)
    # and the cancer registry's demo patients
    babies = [
        b
        for preg in data["pregnancies"]
        for b in preg.get("birth", {}).get("babies", [])
        if b["outcome"] == "live"
    ]
    assert babies
    cancer = data.get("cancer", {}).get("patients", [])
    # and the vital statistics' hand-counted births and deaths (docs/operations.md)
    vital = data.get("vital_statistics", {})
    counted = [*vital.get("counted", []), *vital.get("suppressed", [])]
    assert len(counted) == 9
    assert first["people"] == len(data["people"]) + len(babies) + len(cancer) + len(counted)
    assert f"{len(data['pregnancies'])} pregnancies" in r.output
    # the demo's health indicators are queued for the server's worker (docs/statistics.md)
    assert "Health indicators of " in r.output
    assert "queued (job " in r.output
    assert sorted(first["facilities"]) == sorted(f["code"] for f in data["facilities"])
    for username, (_, role, facility) in logins.items():
        user = first["users"][username]
        assert user.role.value == role
        assert user.facility_code == (facility if facility != "-" else None)
        assert (user.facility_code is not None) == facility_required(role)
    citizen = next(u for u in first["users"].values() if u.role == Role.citizen)
    assert citizen.person_id is not None

    async def her_children(s: Any) -> list[int]:
        from salomat.core.security import Principal

        me = Principal(
            user_id=citizen.id,
            username=citizen.username,
            role="citizen",
            session_id="t",
            person_id=citizen.person_id,
        )
        return await registry.children_of(s, me)

    # the portal's "My children" has the demo relations' children
    assert len(run(her_children, scratch_url)) == 2
    # the demo sick leave (issue 14): every entry a certificate through the service's rules
    certificates = run(_demo_sick_leave(first["users"]), scratch_url)
    _check_demo_sick_leave(country, data, certificates)

    for username, (password, _, _) in logins.items():
        assert _login(username, password, scratch_url)

    again = invoke(["demo", "load", "--no-vital-sample"], env=env)
    assert again.exit_code == 0, again.output
    assert "not loaded" in again.output
    forced = invoke(["demo", "load", "--force", "--no-vital-sample"], env=env)
    assert forced.exit_code == 0, forced.output
    after = run(_inventory, scratch_url)
    assert after["users"].keys() == first["users"].keys()
    assert after["people"] == first["people"]
    assert sorted(after["facilities"]) == sorted(first["facilities"])
    assert _parse_logins(path.read_text()) == logins  # nothing new: passwords unchanged
    assert run(_demo_sick_leave(after["users"]), scratch_url) == certificates

    shown = invoke(["demo", "logins"], env=env)
    assert shown.exit_code == 0
    assert _parse_logins(shown.output) == logins


def _demo_sick_leave(users: dict[str, Any]) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    """Every demo certificate (by holder's national id), and what the citizen account and
    the employer account see of them."""

    async def work(s: Any) -> dict[str, Any]:
        from sqlalchemy import select

        from salomat.domains.registry.models import Person
        from salomat.domains.sickleave import service as sickleave
        from salomat.domains.sickleave.models import SickLeaveCertificate
        from salomat.domains.sickleave.service.common import certificate_out

        rows = await s.execute(
            select(Person.national_id, SickLeaveCertificate.id).join(
                Person, Person.id == SickLeaveCertificate.person_id
            )
        )
        by_holder: dict[str, list[Any]] = {}
        for national_id, certificate_id in rows.all():
            c = await certificate_out(s, await s.get(SickLeaveCertificate, certificate_id))
            by_holder.setdefault(national_id, []).append(c)
        citizen = next(u for u in users.values() if u.role == Role.citizen)
        employer = next(u for u in users.values() if u.role == Role.employer)
        me = Principal(
            user_id=citizen.id,
            username=citizen.username,
            role="citizen",
            session_id="t",
            person_id=citizen.person_id,
        )
        boss = Principal(
            user_id=employer.id,
            username=employer.username,
            role="employer",
            session_id="t",
            employer_id=employer.employer_id,
        )
        return {
            "by_holder": by_holder,
            "citizen": [c.number for c in await sickleave.my_certificates(s, me)],
            "employer": sorted(
                c.number for c in await sickleave.employer_shared_certificates(s, boss)
            ),
        }

    return work


def _check_demo_sick_leave(country: str, data: dict[str, Any], seen: dict[str, Any]) -> None:
    from salomat.domains.sickleave.service import sick_leave_rules

    rules = sick_leave_rules(country)
    by_holder = seen["by_holder"]
    assert sorted(by_holder) == sorted(c["person"] for c in data["sick_leave"])
    employer = next(u["employer"] for u in data["users"] if u["role"] == "employer")
    citizen = next(u["person"] for u in data["users"] if u["role"] == "citizen")
    assert seen["citizen"] == [c.number for c in by_holder[citizen]]
    shared = []
    for spec in data["sick_leave"]:
        [c] = by_holder[spec["person"]]
        steps = [next(iter(step)) for step in spec.get("then", [])]
        if spec["reason"] == "maternity":
            # from the week the pack names, its days (its extension after a complicated birth)
            assert c.kind == "maternity"
            assert c.days in (
                rules.maternity.days,
                rules.maternity.days + rules.maternity.extension_days,
            )
            continue
        assert c.diagnosis == spec["diagnosis"]
        assert c.periods[0].days == spec["days"]
        # counted back from the day of loading (the day before, if midnight passed since)
        loaded_on = c.periods[0].starts_on + timedelta(days=spec["starts_days_ago"])
        assert loaded_on in (date.today(), date.today() - timedelta(days=1))
        if "vkk" in steps:
            # past one doctor's limit only on the commission's decision
            assert c.days > rules.practitioners["doctor"].alone_days
            assert c.vkk_decisions
            assert c.periods[-1].granted_as == "vkk"
        if "close" in steps:
            assert c.status == "closed"
            assert c.return_to_work_on is not None
            assert c.return_to_work_on <= date.today()
        else:
            assert c.status == "open"
        if any(step.get("share") == employer for step in spec.get("then", [])):
            shared.append(c.number)
    assert shared
    assert seen["employer"] == sorted(shared)


def test_demo_load_force_adds_only_what_is_missing(scratch_url, tmp_path):
    env = _env(scratch_url, tmp_path)

    async def arrange(s: Any) -> None:
        await accounts.create_user(
            s, UserIn(username="admin", password=PASSWORD, role="admin", full_name="Local admin")
        )

    run(arrange, scratch_url)
    assert "not loaded" in invoke(["demo", "load", "--no-vital-sample"], env=env).output
    r = invoke(["demo", "load", "--force", "--no-vital-sample"], env=env)
    assert r.exit_code == 0, r.output
    assert "Left unchanged (the username exists): admin." in r.output
    logins = _parse_logins((tmp_path / "demo-logins.txt").read_text())
    assert "admin" not in logins
    assert len(logins) == len(pack.demo("UZ")["users"]) - 1
    assert _login("admin", PASSWORD, scratch_url)  # the existing account is untouched


#: per pack: a woman of the demo pregnancies the family doctor refers, the facility code typed
#: in the form ("" = the nearest suitable one), where it must arrive, who receives it there,
#: and what the receiver must see of her (a standing diagnosis, in the page's language)
REFERRAL_CASES = {
    # Tursunova Gulnora: pre-eclampsia standing since 26 weeks, high risk, no referral yet
    "UZ": ("41407872184457", "", "UZ-SAM-PC-001", "perinatal", "pre_eclampsia"),
    # Sarsenova Aigul: moderate anaemia at 36 weeks, medium risk: named to the centre
    "KZ": ("020704639451", "KZ-ALM-PC-001", "KZ-ALM-PC-001", "perinatal", "moderate_anaemia"),
}


def _field(html: str, name: str, form_action: str) -> str:
    form = re.search(rf'action="{re.escape(form_action)}".*?</form>', html, re.S)
    assert form, f"no form posting to {form_action}"
    return re.search(rf'name="{name}" value="([^"]*)"', form.group(0)).group(1)


async def _web_client(app: Any, username: str, password: str, lang: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("10.77.0.1", 40000))
    c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    c.cookies.set("salomat_lang", lang)
    form = await c.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    r = await c.post(
        "/login", data={"username": username, "password": password, "login_csrf": token}
    )
    assert r.status_code == 303, r.text
    return c


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_with_the_demo_logins_a_referral_reaches_the_perinatal_centre_and_is_accepted(
    scratch_url, tmp_path, country, monkeypatch
):
    """Issue 13's "done when": the demo family doctor refers, the perinatal centre's demo
    obstetrician sees who she is (name, age, GA, risk, reason) and accepts."""
    env = _env(scratch_url, tmp_path / "var", country)
    r = invoke(["demo", "load", "--no-vital-sample"], env=env)
    assert r.exit_code == 0, r.output
    logins = _parse_logins(r.output)
    data = pack.demo(country)
    nid, typed, arrives, receiver, diagnosis = REFERRAL_CASES[country]
    woman = next(p for p in data["people"] if p["national_id"] == nid)
    assert logins[receiver][1:] == ("obstetrician", arrives)
    lang = next(u["language"] for u in data["users"] if u["username"] == receiver)

    async def scenario() -> None:
        from salomat.main import create_app

        app = create_app()
        async with session_factory(scratch_url)() as s:
            person_id = await _person_id(s, nid)
        doctor = await _web_client(app, "doctor", logins["doctor"][0], "en")
        obstetrician = await _web_client(app, receiver, logins[receiver][0], lang)
        try:
            # the receiver cannot open her record before the referral
            assert (await obstetrician.get(f"/patients/{person_id}/pregnancy")).status_code == 404
            page = await doctor.get(f"/patients/{person_id}/pregnancy")
            assert page.status_code == 200
            action = f"/patients/{person_id}/pregnancy/referrals"
            sent = await doctor.post(
                action,
                data={
                    "csrf_token": _field(page.text, "csrf_token", action),
                    "pregnancy_id": _field(page.text, "pregnancy_id", action),
                    "kind": "perinatal",
                    "reason": "demo: pressure 150/95 twice, please assess",
                    "to_facility_code": typed,
                },
            )
            assert sent.status_code == 303, sent.text
            record = (await doctor.get(f"/patients/{person_id}/pregnancy")).text
            assert arrives in re.findall(r'data-testid="referral-to">([^<]+)<', record)

            inbox = await obstetrician.get("/referrals?status=sent")
            assert inbox.status_code == 200
            row = re.search(
                rf'<tr data-testid="referral"[^>]*data-person="{person_id}".*?</tr>',
                inbox.text,
                re.S,
            )
            assert row, "the woman is not in the perinatal centre's inbox"
            html = row.group(0)
            assert f"{woman['family_name']} {woman['given_name']}" in html
            age = (
                date.today().year
                - woman["birth_date"].year
                - (
                    (date.today().month, date.today().day)
                    < (woman["birth_date"].month, woman["birth_date"].day)
                )
            )
            assert re.search(rf'data-testid="referral-age">{age}\D', html)
            ga = re.search(r'data-testid="referral-ga">(\d+)\D', html)
            assert ga
            assert 20 <= int(ga.group(1)) <= 42
            assert re.search(r'data-testid="referral-risk" data-risk="(high|medium)"', html)
            assert "demo: pressure 150/95 twice, please assess" in html
            assert f'data-code="{diagnosis}"' in html
            # labels in the receiver's language, no raw code in the text
            text = re.sub(r"<[^>]+>", " ", html)
            assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text  # no snake_case code
            assert not {"high", "medium", "low", "emergency", "urgent"} & set(text.split()), text

            rid = re.search(r'data-id="(\d+)"', html).group(1)
            accept = f"/referrals/{rid}/accept"
            done = await obstetrician.post(
                accept,
                data={
                    "csrf_token": _field(inbox.text, "csrf_token", accept),
                    "version": _field(inbox.text, "version", accept),
                },
            )
            assert done.status_code == 303, done.text
            accepted = await obstetrician.get("/referrals?status=accepted")
            assert f'data-person="{person_id}"' in accepted.text
            # accepting opened her record to the perinatal centre
            assert (await obstetrician.get(f"/patients/{person_id}/pregnancy")).status_code == 200
        finally:
            await doctor.aclose()
            await obstetrician.aclose()
            await dispose_engines()

    with monkeypatch.context() as m:
        for key, value in env.items():
            m.setenv(key, value)
        get_settings.cache_clear()
        try:
            asyncio.run(scenario())
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


async def _person_id(s: Any, national_id: str) -> int:
    from salomat.core.pagination import PageParams
    from salomat.domains.registry.schemas import PersonQuery

    page = await registry.search_persons(
        s, SYSTEM, PersonQuery(national_id=national_id), PageParams(limit=1, offset=0)
    )
    return page.items[0].id


def test_demo_logins_before_any_load_says_what_to_do(tmp_path):
    r = invoke(["demo", "logins"], env={"SALOMAT_VAR_DIR": str(tmp_path)})
    assert r.exit_code == 1
    assert "salomat demo load" in r.output


# ---- backup and restore ------------------------------------------------------------


def _add_person(url: str, family_name: str) -> int:
    async def work(s: Any) -> int:
        person = await registry.register_person(
            s,
            SYSTEM,
            PersonIn(
                family_name=family_name, given_name="Test", birth_date=date(1990, 1, 2), sex="male"
            ),
        )
        return person.id

    return run(work, url)


def _exists(url: str, person_id: int) -> bool:
    return run(lambda s: registry.person_exists(s, person_id), url)


def test_backup_then_restore_brings_back_exactly_the_backed_up_data(scratch_url, tmp_path):
    env = _env(scratch_url, tmp_path)
    kept = _add_person(scratch_url, "Backedup")
    file = tmp_path / "salomat.backup"

    r = invoke(["backup", str(file)], env=env)
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(file.stat().st_mode) == 0o600

    lost = _add_person(scratch_url, "Afterwards")
    assert _exists(scratch_url, lost)

    r = invoke(["restore", str(file), "--yes"], env=env)
    assert r.exit_code == 0, r.output
    assert "(head)" in r.output
    assert _exists(scratch_url, kept)
    assert not _exists(scratch_url, lost)
    # the restored database is fully usable: new rows, audit trail still append-only
    assert _exists(scratch_url, _add_person(scratch_url, "Restored"))


def test_backup_and_restore_functions_take_an_explicit_url(scratch_url, tmp_path):
    kept = _add_person(scratch_url, "Direct")
    file = backup.backup(tmp_path / "direct.backup", scratch_url)
    lost = _add_person(scratch_url, "Gone")
    assert backup.inspect(file, scratch_url) == backup.current_revision(scratch_url)
    assert backup.restore(file, scratch_url) == backup.current_revision(scratch_url)
    assert _exists(scratch_url, kept)
    assert not _exists(scratch_url, lost)


def test_backup_never_overwrites_a_file_unless_told(scratch_url, tmp_path):
    env = _env(scratch_url, tmp_path)
    file = tmp_path / "existing.backup"
    file.write_text("precious")
    r = invoke(["backup", str(file)], env=env)
    assert r.exit_code == 1
    assert "--overwrite" in r.output
    assert file.read_text() == "precious"
    assert invoke(["backup", str(file), "--overwrite"], env=env).exit_code == 0
    assert backup.inspect(file, scratch_url)


def _not_a_backup(kind: str, path: Path) -> Path:
    if kind == "text file":
        path.write_text("not a backup\n")
    else:  # a SQLite database that Salomat did not make
        import sqlite3

        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
    return path


@pytest.mark.parametrize("kind", ["text file", "foreign sqlite database"])
def test_restore_refuses_a_file_that_is_not_a_salomat_backup(scratch_url, tmp_path, kind):
    env = _env(scratch_url, tmp_path)
    kept = _add_person(scratch_url, "Untouched")
    file = _not_a_backup(kind, tmp_path / "file.bin")
    r = invoke(["restore", str(file), "--yes"], env=env)
    assert r.exit_code == 1, r.output
    if scratch_url.startswith("sqlite"):
        expected = "not a SQLite database" if kind == "text file" else "no alembic_version table"
    else:
        expected = "not a pg_dump" if kind == "text file" else "is a SQLite backup"
    assert expected in r.output
    assert _exists(scratch_url, kept)


def test_restore_asks_before_replacing_the_database(scratch_url, tmp_path):
    env = _env(scratch_url, tmp_path)
    file = backup.backup(tmp_path / "b.backup", scratch_url)
    lost_if_restored = _add_person(scratch_url, "Kept")
    r = invoke(["restore", str(file)], env=env, input="n\n")
    assert r.exit_code == 1
    assert "Replace everything" in r.output
    assert _exists(scratch_url, lost_if_restored)


def test_a_missing_pg_dump_is_reported_clearly(monkeypatch, tmp_path):
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupError, match="pg_dump is not installed"):
        backup.backup(tmp_path / "x.dump", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not list(tmp_path.iterdir())


def test_pg_arguments_keep_the_password_out_of_the_command_line():
    conninfo, password = backup._conninfo("postgresql+psycopg://app:s3cret@db.example:5433/salomat")
    assert conninfo == "postgresql://app@db.example:5433/salomat"
    assert password == "s3cret"


# ---- serve ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_its_url_and_answers_health_checks():
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from salomat.cli import app; app()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        assert r.json()["status"] == "ready"
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}/" in stdout
    assert '"path": "/readyz"' in stderr  # the app's own JSON access log, not uvicorn's


def test_maintenance_purge_deletes_only_what_has_expired(facility_code):
    from sqlalchemy import func, select, update

    from salomat.core.db import utcnow
    from salomat.core.idempotency import IdempotencyRecord
    from salomat.domains.accounts.models import AuthSession, User

    old_name, live_name = unique("old-"), unique("live-")
    for name in (old_name, live_name):
        args = ["user", "create", "--username", name, "--role", "nurse"]
        assert invoke([*args, "--facility", facility_code, "--password", PASSWORD]).exit_code == 0
        _login(name, PASSWORD)

    def sessions_of(name: str) -> Any:
        user_id = select(User.id).where(User.username == name).scalar_subquery()
        return select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user_id)

    async def age(s: Any) -> None:
        user_id = select(User.id).where(User.username == old_name).scalar_subquery()
        await s.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id)
            .values(expires_at=utcnow() - timedelta(days=31))
        )
        s.add(
            IdempotencyRecord(
                user_id=-1,
                key=unique("k-"),
                request_hash="0" * 64,
                status_code=201,
                body=b"",
                created_at=utcnow() - timedelta(days=2),
            )
        )

    run(age)
    r = invoke(["maintenance", "purge"])
    assert r.exit_code == 0, r.output
    assert "login sessions" in r.output
    assert "idempotency records" in r.output

    async def left(s: Any) -> tuple[int, int, int]:
        stale = select(func.count()).select_from(IdempotencyRecord)
        stale = stale.where(IdempotencyRecord.created_at < utcnow() - timedelta(days=1))
        return (
            await s.scalar(sessions_of(old_name)),
            await s.scalar(sessions_of(live_name)),
            await s.scalar(stale),
        )

    assert run(left) == (0, 1, 0)


# ---- the audit trail: seal, verify; db roles; the start-up warning ---------------------


def _audit_rows(url: str, n: int) -> list[int]:
    """``n`` audit rows written as the application writes them; their ids."""
    from sqlalchemy import select

    from salomat.core import audit
    from salomat.core.audit import AuditEvent

    async def work(s: Any) -> list[int]:
        for i in range(n):
            await audit.record(
                s, SYSTEM, action="read", resource_type="Patient", resource_id=str(i), patient_id=i
            )
        await s.flush()
        ids = await s.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(n))
        return sorted(ids)

    return run(work, url)


def _as_superuser(url: str, sql: str, params: tuple[Any, ...]) -> None:
    """What someone with the database's own rights can do: the triggers switched off."""
    if url.startswith("sqlite"):
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(url.split("///", 1)[1])) as conn:
            conn.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
            conn.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
            conn.execute(sql, params)
            conn.commit()
        return
    import psycopg

    with psycopg.connect(_pg_admin(url)) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql.replace("?", "%s"), params)


def test_audit_verify_says_ok_with_the_count_then_names_the_altered_and_missing_rows(
    scratch_url, tmp_path
):
    ids = _audit_rows(scratch_url, 5)
    env = _env(scratch_url, tmp_path)

    sealed = invoke(["audit", "seal"], env=env)
    assert sealed.exit_code == 0, sealed.output
    assert f"Sealed 5 new audit row(s); the chain ends at row {ids[-1]}, hash " in sealed.output
    ok = invoke(["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "OK: all 5 audit rows are as they were written: 5 sealed" in ok.output

    _as_superuser(scratch_url, "UPDATE audit_event SET patient_id = 999 WHERE id = ?", (ids[3],))
    altered = invoke(["audit", "verify"], env=env)
    assert altered.exit_code == 1
    assert f"First: audit row {ids[3]} altered" in altered.output

    _as_superuser(scratch_url, "DELETE FROM audit_event WHERE id = ?", (ids[1],))
    missing = invoke(["audit", "verify"], env=env)
    assert missing.exit_code == 1
    assert f"First: audit row {ids[1]} missing" in missing.output
    assert f"audit row {ids[3]} altered" in missing.output  # every problem is listed
    assert "2 problem(s) in 4 audit rows" in missing.output


def test_audit_verify_seal_first_seals_the_new_rows(scratch_url, tmp_path):
    _audit_rows(scratch_url, 2)
    r = invoke(["audit", "verify", "--seal"], env=_env(scratch_url, tmp_path))
    assert r.exit_code == 0, r.output
    assert "Sealed 2 new audit row(s)" in r.output
    assert "OK: all 2 audit rows are as they were written: 2 sealed" in r.output


@pytest.mark.skipif(not MAIN_URL.startswith("sqlite"), reason="SQLite only")
def test_db_roles_on_sqlite_says_it_has_no_roles():
    r = invoke(["db", "roles"])
    assert r.exit_code == 1
    assert "SQLite has no database roles: nothing was done" in r.output


def _serve_output(monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> str:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    r = invoke(["serve"], env=env)
    assert r.exit_code == 0, r.output
    return r.output


def test_serve_warns_when_its_database_role_can_bypass_the_audit_protections(monkeypatch):
    output = _serve_output(monkeypatch)  # the test database: SQLite, or PostgreSQL as postgres
    if MAIN_URL.startswith("sqlite"):
        assert "Warning: the app is connected" not in output
    else:
        assert "Warning: the app is connected to PostgreSQL as postgres, a superuser" in output
        assert '"Database roles" in docs/operations.md' in output


@pytest.mark.skipif(MAIN_URL.startswith("sqlite"), reason="needs PostgreSQL")
def test_db_roles_once_and_again_then_the_app_role_serves_without_warning(
    scratch_url, tmp_path, monkeypatch
):
    import psycopg
    from sqlalchemy.engine import make_url

    tag = uuid.uuid4().hex[:8]
    names = {"owner": f"c{tag}_owner", "app": f"c{tag}_app", "auditor": f"c{tag}_auditor"}
    args = ["db", "roles"] + [a for k, v in names.items() for a in (f"--{k}", v)]
    env = _env(scratch_url, tmp_path)
    try:
        first = invoke(args, env=env)
        assert first.exit_code == 0, first.output
        assert first.output.count(": created, LOGIN without a password") == 3
        again = invoke(args, env=env)
        assert again.exit_code == 0, again.output
        assert "created" not in again.output
        assert again.output.count("exists, an ordinary login role") == 3

        as_app = make_url(scratch_url).set(username=names["app"])
        output = _serve_output(monkeypatch, _env(as_app.render_as_string(False), tmp_path))
        assert "Warning" not in output
    finally:
        with psycopg.connect(_pg_admin(scratch_url), autocommit=True) as conn:
            if conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (names["owner"],)
            ).fetchone():
                conn.execute(f'REASSIGN OWNED BY "{names["owner"]}" TO CURRENT_USER')
            for n in names.values():  # one role at a time: their grants refer to each other
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (n,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{n}"')
                    conn.execute(f'DROP ROLE "{n}"')


# ---- salomat worker -------------------------------------------------------------


def test_worker_once_runs_the_jobs_due_and_says_how_many(scratch_url, tmp_path):
    from salomat.core import jobs

    kind = f"test.cli.{uuid.uuid4().hex[:8]}"
    done: list[str] = []

    @jobs.handler(kind)
    async def greet(ctx: jobs.JobContext) -> dict:
        done.append(ctx.payload["to"])
        return {"greeted": ctx.payload["to"]}

    async def queue_two(session: Any) -> list[int]:
        return [await jobs.enqueue(session, kind, {"to": who}) for who in ("Aziza", "Bekzod")]

    ids = run(queue_two, scratch_url)
    env = _env(scratch_url, tmp_path)
    r = invoke(["worker", "--once", "--kind", kind], env=env)
    assert r.exit_code == 0, r.output
    assert "2 job(s) run" in r.output
    assert done == ["Aziza", "Bekzod"]

    async def statuses(session: Any) -> list[str]:
        return [(await jobs.get(session, i)).status for i in ids]

    assert run(statuses, scratch_url) == ["done", "done"]
    again = invoke(["worker", "--once", "--kind", kind], env=env)
    assert "0 job(s) run" in again.output


def test_worker_refuses_a_kind_it_does_not_know(tmp_path):
    r = invoke(["worker", "--once", "--kind", "no-such-kind"], env={})
    assert r.exit_code == 1
    assert "Unknown job kind: no-such-kind" in r.output
