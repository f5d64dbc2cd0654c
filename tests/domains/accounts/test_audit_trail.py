"""The auditor reads the audit trail: each filter narrows it, pages are stable, the
reading is itself audited, and no other role may read it."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from salomat.core import audit_chain
from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from tests.domains.accounts.audit_support import (
    audit_row,
    named_facility,
    named_user,
    web_login,
)
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio

#: each scenario's rows are in a year of their own, which no other test writes in
YEARS = itertools.count(2001)  # Tashkent has kept UTC+5 since 1992
WINDOW: dict[str, str] = {}


@pytest.fixture
async def scenario(db, make_person, make_user):
    """Five rows by two clinicians about two people, at known times (in January)."""
    year = next(YEARS)
    WINDOW.clear()
    WINDOW.update({"from": f"{year}-01-01", "to": f"{year}-12-31"})

    def at(day: int, hour: int = 9) -> datetime:
        return datetime(year, 1, day, hour, tzinfo=UTC)

    north = await named_facility(db, uz="Shimoliy poliklinika", ru="Северная поликлиника")
    south = await named_facility(db, uz="Janubiy poliklinika", ru="Южная поликлиника")
    born = date(1990, 2, 3)
    p = await make_person(north.code, national_id=national_id_for(born, "female"), birth_date=born)
    q = await make_person(south.code)
    a = await named_user(db, "family_doctor", "Karimov Anvar Olimovich", north.code)
    b = await named_user(db, "nurse", "Yusupova Zilola Rustamovna", south.code)
    rows = {
        "a_read_p": await audit_row(
            at(10),
            a,
            facility_id=north.id,
            patient_id=p.id,
            purpose="attached to the user's facility",
        ),
        "a_update_p": await audit_row(
            at(11), a, facility_id=north.id, action="update", patient_id=p.id
        ),
        "b_denied_q": await audit_row(
            at(11, 15), b, facility_id=south.id, action="denied", patient_id=q.id, outcome="failure"
        ),
        "b_read_p": await audit_row(
            at(12),
            b,
            facility_id=south.id,
            patient_id=p.id,
            break_glass=True,
            purpose='break-the-glass: =HYPERLINK("http://x")',
        ),
        "a_login": await audit_row(
            at(10, 8), a, facility_id=north.id, action="login", resource_type="Session"
        ),
    }
    return {
        "year": year,
        "p": p,
        "q": q,
        "a": a,
        "b": b,
        "north": north,
        "south": south,
        "rows": rows,
    }


async def _ids(client, auth, **params) -> list[int]:
    r = await client.get("/api/v1/audit-events", params={**WINDOW, **params}, headers=auth)
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()["items"]]


async def test_each_filter_narrows_the_trail(client, make_user, login, scenario):
    auth = await login(await make_user("auditor"))
    rows, s = scenario["rows"], scenario
    everything = await _ids(client, auth)
    # newest first: by id, which is the order the rows were written in
    assert everything == sorted(rows.values(), reverse=True)

    def only(*names: str) -> list[int]:
        return sorted((rows[n] for n in names), reverse=True)

    assert await _ids(client, auth, actor=s["a"].username) == only(
        "a_read_p", "a_update_p", "a_login"
    )
    assert await _ids(client, auth, actor=s["a"].username.upper()) == only(
        "a_read_p", "a_update_p", "a_login"
    )
    assert await _ids(client, auth, action="update") == only("a_update_p")
    assert await _ids(client, auth, person=str(s["p"].id)) == only(
        "a_read_p", "a_update_p", "b_read_p"
    )
    assert await _ids(client, auth, person=s["p"].national_id) == only(
        "a_read_p", "a_update_p", "b_read_p"
    )
    assert await _ids(client, auth, resource_type="Session") == only("a_login")
    assert await _ids(client, auth, outcome="failure") == only("b_denied_q")
    assert await _ids(client, auth, facility=s["south"].code) == only("b_denied_q", "b_read_p")
    assert await _ids(client, auth, break_glass="true") == only("b_read_p")
    # times in the country's zone (UTC+5): 09:00 UTC on the 10th is 14:00 there
    assert await _ids(
        client, auth, **{"from": f"{s['year']}-01-10T14:00", "to": f"{s['year']}-01-10T14:01"}
    ) == only("a_read_p")
    assert await _ids(
        client, auth, **{"from": f"{s['year']}-01-11", "to": f"{s['year']}-01-11"}
    ) == only("a_update_p", "b_denied_q")
    assert await _ids(
        client, auth, **{"from": f"{s['year']}-01-10T09:00Z", "to": f"{s['year']}-01-10T09:00:01Z"}
    ) == only("a_read_p")


async def test_rows_carry_names_facilities_and_local_times(client, make_user, login, scenario):
    auth = await login(await make_user("auditor"))
    r = await client.get(
        "/api/v1/audit-events", params={**WINDOW, "action": "update"}, headers=auth
    )
    [row] = r.json()["items"]
    assert row["full_name"] == "Karimov Anvar Olimovich"
    assert row["facility_name"] == "Shimoliy poliklinika"
    assert row["occurred_at_local"] == f"{scenario['year']}-01-11T14:00:00+05:00"
    assert r.json()["time_zone"] == "Asia/Tashkent"


async def test_keyset_pages_do_not_overlap_and_end(client, make_user, login, scenario):
    auth = await login(await make_user("auditor"))
    ids = sorted(scenario["rows"].values(), reverse=True)
    seen, before = [], None
    while True:
        params = {**WINDOW, "limit": 2, **({"before": before} if before else {})}
        body = (await client.get("/api/v1/audit-events", params=params, headers=auth)).json()
        seen += [e["id"] for e in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert seen == ids
    exact = (
        await client.get("/api/v1/audit-events", params={**WINDOW, "limit": 5}, headers=auth)
    ).json()
    assert exact["next_before"] is None
    assert len(exact["items"]) == 5


async def test_the_reading_is_audited(client, make_user, login, scenario):
    auditor = await make_user("auditor")
    auth = await login(auditor)
    p = scenario["p"]
    assert await _ids(client, auth, person=str(p.id))
    assert (
        await client.get("/api/v1/audit-events.csv", params={**WINDOW}, headers=auth)
    ).status_code == 200
    async with session_factory()() as s:
        mine = list(
            (
                await s.execute(
                    select(AuditEvent)
                    .where(
                        AuditEvent.user_id == auditor.id, AuditEvent.resource_type == "AuditEvent"
                    )
                    .order_by(AuditEvent.id)
                )
            ).scalars()
        )
    assert [(e.action, e.purpose) for e in mine] == [("search", "audit review")] * 2
    assert mine[0].patient_id == p.id
    assert f"person={p.id}" in mine[0].detail
    assert mine[1].detail.startswith("export: ")
    # the reading is written after the rows are read: not on the page it produced
    body = (
        await client.get("/api/v1/audit-events", params={"actor": auditor.username}, headers=auth)
    ).json()
    assert len(body["items"]) == 2 + 1  # two readings and the login


@pytest.mark.parametrize("role", ["family_doctor", "registrar", "analyst", "citizen"])
async def test_other_roles_are_refused(client, make_user, make_person, login, role):
    person = await make_person() if role == "citizen" else None
    user = await make_user(role, person_id=person.id if person else None)
    auth = await login(user)
    assert (await client.get("/api/v1/audit-events", headers=auth)).status_code == 403
    assert (await client.get("/api/v1/audit-events.csv", headers=auth)).status_code == 403
    await web_login(client, user)
    assert (await client.get("/audit")).status_code == 403
    assert (await client.get("/audit/export.csv")).status_code == 403
    assert 'href="/audit"' not in (await client.get("/")).text


async def test_an_admin_may_read_it(client, make_user, login):
    auth = await login(await make_user("admin"))
    assert (await client.get("/api/v1/audit-events", headers=auth)).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2019-02-30"}, "to"),
        ({"from": "2019-01-12", "to": "2019-01-11"}, "to"),
        ({"from": "9999-12-31T23:00-10:00"}, "from"),
        ({"action": "peek"}, "action"),
        ({"outcome": "maybe"}, "outcome"),
        ({"break_glass": "maybe"}, "break_glass"),
        ({"person": "12345678901234"}, "person"),  # a PINFL nobody has
        ({"person": "Karimova"}, "person"),
        ({"before": "0"}, "before"),
        ({"limit": "100000"}, "limit"),
    ],
)
async def test_wrong_filters_answer_422_naming_the_field(client, make_user, login, params, field):
    auth = await login(await make_user("auditor"))
    r = await client.get("/api/v1/audit-events", params=params, headers=auth)
    assert r.status_code == 422, r.text
    assert field in {e["field"].rsplit(".", 1)[-1] for e in r.json()["errors"]}


async def test_the_page_filters_labels_and_pages(client, make_user, scenario):
    auditor = await make_user("auditor")
    await web_login(client, auditor, lang="ru")
    home = await client.get("/")
    assert 'href="/audit"' in home.text
    page = await client.get("/audit", params={**WINDOW, "person": str(scenario["p"].id)})
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="audit-row"') == 3
    assert "Karimov Anvar Olimovich" in html
    assert "Yusupova Zilola Rustamovna" in html
    assert "Шимолий" not in html
    assert "Северная поликлиника" in html  # the facility's Russian name
    assert f"{scenario['year']}-01-11 14:00:00" in html  # local time
    assert "прикреплён к учреждению пользователя" in html  # the reason, translated
    assert "family_doctor" not in html.split('id="audit-rows-title"')[1]
    assert "Emergency access" not in html  # the page is in Russian
    # the filters are kept in the CSV link and in the next page's link
    assert (
        f"person={scenario['p'].id}"
        in html.split('data-testid="audit-csv"')[0].rsplit("href=", 1)[1]
    )
    paged = await client.get("/audit", params={**WINDOW, "before": scenario["rows"]["b_read_p"]})
    # the three rows written before that one
    assert paged.text.count('data-testid="audit-row"') == 3
    assert 'data-testid="first-page"' in paged.text

    bad = await client.get("/audit", params={"from": "not a date"})
    assert bad.status_code == 422
    assert 'data-testid="audit-errors"' in bad.text
    assert 'value="not a date"' in bad.text
    # an emergency-access filter that is neither yes nor no is refused, not ignored
    unclear = await client.get("/audit", params={**WINDOW, "break_glass": "maybe"})
    assert unclear.status_code == 422
    assert 'data-testid="audit-row"' not in unclear.text


async def test_the_csv_export_is_filtered_labelled_and_neutralised(client, make_user, scenario):
    await web_login(client, await make_user("auditor"))
    r = await client.get("/audit/export.csv", params={**WINDOW, "break_glass": "true"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    header, *lines = list(csv.reader(io.StringIO(r.text)))
    assert header[:3] == ["Row", "Time (local)", "Time (UTC)"]
    [line] = lines
    assert int(line[0]) == scenario["rows"]["b_read_p"]
    assert line[1] == f"{scenario['year']}-01-12 14:00:00"
    assert line[4] == "Yusupova Zilola Rustamovna"
    assert line[12] == '\'=HYPERLINK("http://x")'  # a formula typed as a reason, neutralised


async def test_the_chain_status_shows_the_seal_without_verifying(client, make_user, scenario):
    from salomat.core.config import get_settings

    report = await audit_chain.seal(get_settings().database_url)
    await web_login(client, await make_user("auditor"))
    html = (await client.get("/audit")).text
    assert f"sealed up to entry {report.head_id}" in html
    assert report.head_hash.hex()[:16] in html
    assert "salomat audit verify" in html


async def test_the_page_reads_a_local_date_and_time_as_typed(client, make_user, scenario):
    await web_login(client, await make_user("auditor"))
    year = scenario["year"]
    page = await client.get("/audit", params={"from": f"{year}-01-12 14:00", "to": f"{year}-01-12"})
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'data-testid="audit-row" data-id="(\d+)"', page.text)]
    assert ids == [scenario["rows"]["b_read_p"]]  # 09:00 UTC on the 12th is 14:00 local
    assert f'value="{year}-01-12 14:00"' in page.text
