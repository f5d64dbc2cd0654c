"""A facility's staff page without a browser: the roles with their FTE, adding a role (a
new or an existing practitioner), ending one with the version read, the 1.5 limit on the
``fte`` field with the person's total, permissions, and no 5xx on any input."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from tests.domains.registry.test_web import field_error, web_login
from tests.factories import country_today, unique_name

pytestmark = pytest.mark.anyio
FTE_MESSAGE = (
    "with this role the person would work %(total)s full-time equivalents (their "
    "other roles in those dates hold %(held)s); one person works at most %(max)s"
)


@pytest.fixture
async def admin(make_user, client):
    account = await make_user("admin")
    csrf = await web_login(client, account)
    return account, csrf


def _new(csrf: str, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "practitioner_id": "new",
        "family_name": "Karimova",
        "given_name": unique_name("Nodira"),
        "patronymic": "",
        "national_id": "",
        "specialty": "general_practice",
        "position": "nurse",
        "section_code": "",
        "fte": "0.5",
        "start_on": country_today().isoformat(),
        **kw,
    }


def _url(code: str) -> str:
    return f"/admin/facilities/{code}/staff"


def _role_row(html: str, given: str) -> str:
    m = re.search(rf'<tr data-testid="role-(\d+)">(?:(?!</tr>).)*{given}.*?</tr>', html, re.S)
    assert m, html
    return m.group(0)


async def _add(client, code: str, data: dict[str, str]) -> int:
    r = await client.post(_url(code), data=data)
    assert r.status_code == 303, r.text
    return int(re.search(r"added=(\d+)", r.headers["location"]).group(1))


async def test_the_facility_list_links_to_the_staff_page(client, admin, make_facility):
    fac = await make_facility()
    page = await client.get("/facilities")
    assert page.status_code == 200
    # every listed facility links to its staff page (the new one may be on a later page)
    listed = re.findall(r'data-testid="facility-([^"]+)"', page.text)
    links = re.findall(r'href="/admin/facilities/([^"/]+)/staff"', page.text)
    assert listed
    assert links == listed
    staff = await client.get(_url(fac.code))
    assert staff.status_code == 200
    assert 'data-testid="staff-empty"' in staff.text
    assert 'name="fte"' in staff.text
    assert 'value="1.0"' in staff.text


async def test_a_new_practitioner_with_half_a_post_is_listed_with_position_and_fte(
    client, admin, make_facility
):
    fac = await make_facility()
    _, csrf = admin
    data = _new(csrf, fte="0,5")  # a decimal comma is read as a point
    role_id = await _add(client, fac.code, data)
    page = await client.get(_url(fac.code), params={"added": role_id})
    row = _role_row(page.text, data["given_name"])
    assert "Karimova" in row
    assert "Nurse" in row
    assert re.search(r'data-testid="role-fte">0\.5<', row)
    assert 'data-testid="role-added"' in page.text
    # the service audited the writes as the API does
    async with session_factory()() as s:
        rows = (
            await s.scalars(
                select(AuditEvent.resource_type).where(
                    AuditEvent.resource_type.in_(("Practitioner", "PractitionerRole")),
                    AuditEvent.resource_id == str(role_id),
                )
            )
        ).all()
    assert "PractitionerRole" in rows


async def test_the_position_is_in_the_readers_language(client, admin, make_facility):
    fac = await make_facility()
    _, csrf = admin
    data = _new(csrf, position="patronage_nurse")
    await _add(client, fac.code, data)
    client.cookies.set("salomat_lang", "ru")
    page = await client.get(_url(fac.code))
    row = _role_row(page.text, data["given_name"])
    assert "Патронажная медсестра" in row
    assert "patronage_nurse" not in row


@pytest.mark.parametrize(("second", "status"), [("0.99", 303), ("1.0", 303), ("1.01", 422)])
async def test_one_person_over_one_and_a_half_posts_is_refused_on_the_fte_field(
    client, admin, make_facility, make_practitioner, second, status
):
    """0.5 held: 0.99 and 1.0 more are taken (1.49, 1.5), 1.01 (1.51) is refused, the
    message on ``fte`` saying the person's total; nothing is stored."""
    fac = await make_facility()
    _, csrf = admin
    p = await make_practitioner()
    first = _new(csrf, practitioner_id=str(p.id), position="nurse", fte="0.5")
    await _add(client, fac.code, first)
    more = _new(csrf, practitioner_id=str(p.id), position="midwife", fte=second)
    r = await client.post(_url(fac.code), data=more)
    assert r.status_code == status, r.text
    if status == 422:
        message = field_error(r.text, "fte")
        assert message is not None
        assert message == (
            "with this role the person would work 1.51 full-time equivalents (their other "
            "roles in those dates hold 0.5); one person works at most 1.5"
        )
        assert 'aria-invalid="true" aria-describedby="f-fte-error"' in r.text
        page = await client.get(_url(fac.code))
        assert page.text.count('<tr data-testid="role-') == 1  # the refused role is not there


async def test_a_refused_role_stores_no_new_practitioner_either(client, admin, make_facility):
    fac = await make_facility()
    _, csrf = admin
    data = _new(csrf, fte="1.6")
    r = await client.post(_url(fac.code), data=data)
    assert r.status_code == 422
    assert field_error(r.text, "fte")
    assert f'value="{data["given_name"]}"' in r.text  # the form keeps what was typed
    found = await client.get(_url(fac.code), params={"find": data["given_name"]})
    assert 'data-testid="found-none"' in found.text


async def test_field_errors_in_russian(client, admin, make_facility, make_practitioner):
    fac = await make_facility()
    _, csrf = admin
    p = await make_practitioner()
    await _add(client, fac.code, _new(csrf, practitioner_id=str(p.id), fte="1"))
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        _url(fac.code), data=_new(csrf, practitioner_id=str(p.id), position="midwife", fte="1")
    )
    assert r.status_code == 422
    # the translators' words, as a Russian reader must see them (not our catalogue's: a
    # missing translation would come out English on both sides)
    assert field_error(r.text, "fte") == (
        "с этой должностью человек работал бы на 2 ставки (другие его должности в эти даты "
        "— 1); один человек работает не более чем на 1,5 ставки"
    )
    assert 'lang="ru"' in r.text


async def test_ending_a_role_needs_the_version_read(client, admin, make_facility):
    fac = await make_facility()
    _, csrf = admin
    data = _new(csrf)
    role_id = await _add(client, fac.code, data)
    end = f"{_url(fac.code)}/{role_id}/end"
    r = await client.post(end, data={"csrf_token": csrf, "end_on": country_today().isoformat()})
    assert r.status_code == 412
    assert field_error(r.text, "end_on")
    r = await client.post(
        end, data={"csrf_token": csrf, "end_on": country_today().isoformat(), "version": "1"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(_url(fac.code))
    row = _role_row(page.text, data["given_name"])
    assert country_today().strftime("%d.%m.%Y") in row
    # the version read is now stale
    stale = await client.post(
        end, data={"csrf_token": csrf, "end_on": country_today().isoformat(), "version": "1"}
    )
    # the same day again changes nothing: the page takes it (however old the version
    # read, versions.unchanged) and shows the role as it is
    assert stale.status_code == 303, stale.text
    assert stale.headers["location"] == f"{_url(fac.code)}?ended={role_id}"
    assert country_today().strftime("%d.%m.%Y") in _role_row(
        (await client.get(_url(fac.code))).text, data["given_name"]
    )
    later = await client.post(
        end,
        data={
            "csrf_token": csrf,
            "end_on": (country_today() + timedelta(1)).isoformat(),
            "version": "1",
        },
    )
    # another day with the stale version is refused on the field, the role unchanged
    assert later.status_code == 412
    assert field_error(later.text, "end_on") == (
        "The role changed since the page was opened: reload it and try again."
    )
    row = _role_row((await client.get(_url(fac.code))).text, data["given_name"])
    assert country_today().strftime("%d.%m.%Y") in row
    assert (country_today() + timedelta(1)).strftime("%d.%m.%Y") not in row
    before = await client.post(
        end,
        data={
            "csrf_token": csrf,
            "end_on": (country_today() - timedelta(1)).isoformat(),
            "version": "2",
        },
    )
    assert before.status_code == 422
    assert field_error(before.text, "end_on")


async def test_a_role_of_another_facility_is_not_ended_here(client, admin, make_facility):
    fac, other = await make_facility(), await make_facility()
    _, csrf = admin
    role_id = await _add(client, other.code, _new(csrf))
    r = await client.post(
        f"{_url(fac.code)}/{role_id}/end",
        data={"csrf_token": csrf, "end_on": country_today().isoformat(), "version": "1"},
    )
    assert r.status_code == 404


async def test_without_the_form_token_nothing_is_stored(client, admin, make_facility):
    fac = await make_facility()
    data = _new("not-the-token")
    r = await client.post(_url(fac.code), data=data)
    assert r.status_code == 403
    found = await client.get(_url(fac.code), params={"find": data["given_name"]})
    assert 'data-testid="found-none"' in found.text


@pytest.mark.parametrize("role", ["registrar", "family_doctor", "planner", "auditor"])
async def test_staff_read_the_page_but_only_administrators_add_or_end_roles(
    client, make_user, make_facility, role
):
    fac = await make_facility()
    account = await make_user(role)
    csrf = await web_login(client, account)
    page = await client.get(_url(fac.code))
    assert page.status_code == 200
    assert 'data-testid="add-role"' not in page.text
    r = await client.post(_url(fac.code), data=_new(csrf))
    assert r.status_code == 403
    r = await client.post(
        f"{_url(fac.code)}/1/end", data={"csrf_token": csrf, "end_on": "", "version": "1"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("role", ["citizen", "employer"])
async def test_citizens_and_employers_do_not_see_staff(
    client, make_user, make_person, make_facility, role
):
    fac = await make_facility()
    person = await make_person() if role == "citizen" else None
    account = await make_user(role, person_id=person.id if person else None)
    await web_login(client, account)
    assert (await client.get(_url(fac.code))).status_code == 403


async def test_an_unknown_facility_is_404(client, admin):
    assert (await client.get(_url("NO-SUCH-FACILITY"))).status_code == 404
    _, csrf = admin
    assert (await client.post(_url("NO-SUCH-FACILITY"), data=_new(csrf))).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fte", "0"),
        ("fte", "-1"),
        ("fte", "1.51"),
        ("fte", "0.005"),
        ("fte", "half"),
        ("fte", "NaN"),
        ("fte", "1e400"),
        ("position", "astronaut"),
        ("position", ""),
        ("specialty", "astrology"),
        ("specialty", ""),
        ("family_name", ""),
        ("section_code", "S-none"),
        ("start_on", "2024-13-40"),
        ("practitioner_id", "999999999"),
        ("practitioner_id", "abc"),
        ("practitioner_id", "99999999999999999999"),
        ("national_id", "123"),
    ],
)
async def test_a_bad_field_is_4xx_on_that_field(client, admin, make_facility, field, value):
    fac = await make_facility()
    _, csrf = admin
    r = await client.post(_url(fac.code), data=_new(csrf, **{field: value}))
    assert r.status_code == 422, r.text
    assert field_error(r.text, field), r.text


@pytest.mark.parametrize("q", [{"offset": "-1"}, {"offset": "x"}, {"find": "x" * 101}])
async def test_bad_query_parameters_are_422(client, admin, make_facility, q):
    fac = await make_facility()
    assert (await client.get(_url(fac.code), params=q)).status_code == 422


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    practitioner_id=st.one_of(st.just("new"), st.integers(-5, 10**12).map(str), _text),
    family_name=_text,
    given_name=_text,
    national_id=st.one_of(st.text("0123456789", max_size=14), _text),
    specialty=st.one_of(st.sampled_from(["general_practice", ""]), _text),
    position=st.one_of(st.sampled_from(["nurse", "family_doctor", "midwife"]), _text),
    section_code=st.one_of(st.just(""), _text),
    fte=st.one_of(st.decimals(allow_nan=True).map(str), st.floats().map(str), _text),
    start_on=st.one_of(st.dates().map(date.isoformat), _text),
    end_on=st.one_of(st.dates().map(date.isoformat), _text),
    version=st.one_of(st.integers(-3, 10**20).map(str), _text),
)
async def test_any_form_answers_without_a_server_error(
    client,
    admin,
    make_facility,
    practitioner_id,
    family_name,
    given_name,
    national_id,
    specialty,
    position,
    section_code,
    fte,
    start_on,
    end_on,
    version,
):
    fac = await make_facility()
    _, csrf = admin
    data = {
        "csrf_token": csrf,
        "practitioner_id": practitioner_id,
        "family_name": family_name,
        "given_name": given_name,
        "patronymic": "",
        "national_id": national_id,
        "specialty": specialty,
        "position": position,
        "section_code": section_code,
        "fte": fte,
        "start_on": start_on,
    }
    r = await client.post(_url(fac.code), data=data)
    assert r.status_code < 500, r.text
    assert r.status_code in (303, 404, 409, 422), r.text
    if r.status_code == 303:
        role_id = int(re.search(r"added=(\d+)", r.headers["location"]).group(1))
        end = await client.post(
            f"{_url(fac.code)}/{role_id}/end",
            data={"csrf_token": csrf, "end_on": end_on, "version": version},
        )
        assert end.status_code in (303, 409, 412, 422), end.text


async def test_the_section_is_shown_by_its_name_not_its_code(client, admin, make_facility):
    from salomat.domains.registry.models import Section

    fac = await make_facility()
    async with session_factory()() as s:
        s.add(Section(facility_id=fac.id, code="07", name="7-son uchastka"))
        await s.commit()
    _, csrf = admin
    data = _new(csrf, position="family_doctor", section_code="07")
    await _add(client, fac.code, data)
    page = await client.get(_url(fac.code))
    row = _role_row(page.text, data["given_name"])
    # as the add form's select shows it
    assert "07 · 7-son uchastka" in row
    assert 'data-label="Section">07<' not in row


async def test_the_form_offers_the_countrys_day_not_the_servers(
    client, admin, make_facility, monkeypatch
):
    # 20:00 UTC on 7 December is already 8 December in Tashkent and Almaty (UTC+5)
    from datetime import UTC, datetime

    from salomat.country import pack

    real = pack.today
    monkeypatch.setattr(
        pack,
        "today",
        lambda country, now=None: real(country, datetime(2026, 12, 7, 20, tzinfo=UTC)),
    )
    fac = await make_facility()
    page = await client.get(_url(fac.code))
    start = re.search(r'<input[^>]*name="start_on"[^>]*>', page.text)
    assert start, page.text
    assert 'value="2026-12-08"' in start.group(0)


@pytest.mark.parametrize(("days", "upcoming"), [(-1, False), (0, False), (1, True)])
async def test_a_role_that_starts_later_says_when_on_the_banner(
    client, admin, make_facility, days, upcoming
):
    fac = await make_facility()
    _, csrf = admin
    start = country_today() + timedelta(days=days)
    data = _new(csrf, start_on=start.isoformat())
    role_id = await _add(client, fac.code, data)
    page = await client.get(_url(fac.code), params={"added": role_id})
    banner = page.text.split('data-testid="role-added"')[1].split("</div>")[0]
    listed = f'data-testid="role-{role_id}"' in page.text
    assert listed is not upcoming  # the table lists the current roles
    if upcoming:  # not in the table yet: the banner says from which day (not a dead end)
        assert start.strftime("%d.%m.%Y") in banner
        assert "starts on" in banner
    else:
        assert "starts on" not in banner
