"""The page header names the user's facility in the page's language (its code as the
tooltip), and what that costs the request: nothing more than the session's one statement
(the names are correlated subqueries in it), for a page as for an API request."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import event

from salomat.core.db import get_engine
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.service import principal_cache
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn
from tests.domains.registry.test_web import web_login
from tests.factories import unique

pytestmark = pytest.mark.anyio

NAMES = {
    "ru": "Семейная поликлиника № 7",
    "uz": "7-sonli oilaviy poliklinika",
}


@pytest.fixture
async def named_doctor(db, make_user) -> Any:
    fac = await registry.create_facility(
        db,
        FacilityIn(
            code=unique("F"), name="Family polyclinic No. 7", kind="family_polyclinic", names=NAMES
        ),
    )
    await db.commit()
    return await make_user("family_doctor", facility_code=fac.code)


def _who_facility(page: str) -> tuple[str, str]:
    m = re.search(r'<span data-testid="who-facility"[^>]*title="([^"]*)"[^>]*>([^<]*)<', page)
    assert m, page
    return html.unescape(m.group(1)), html.unescape(m.group(2))


@pytest.mark.parametrize(
    ("lang", "name"),
    [("en", "Family polyclinic No. 7"), ("ru", NAMES["ru"]), ("uz", NAMES["uz"])],
)
async def test_the_header_names_the_facility_in_the_page_language(client, named_doctor, lang, name):
    await web_login(client, named_doctor)
    client.cookies.set("salomat_lang", lang)
    page = await client.get("/")
    assert page.status_code == 200
    assert _who_facility(page.text) == (named_doctor.facility_code, name)


async def test_a_facility_without_a_name_in_the_language_shows_its_main_name(client, make_user):
    doctor = await make_user("family_doctor")  # the factory's facility has no other names
    await web_login(client, doctor)
    client.cookies.set("salomat_lang", "ru")
    page = await client.get("/")
    assert _who_facility(page.text) == (doctor.facility_code, "Test polyclinic")


async def test_statements_to_resolve_a_page_and_an_api_principal(client, db, named_doctor, login):
    await web_login(client, named_doctor)
    cookie = client.cookies["salomat_session"]
    bearer = (await login(named_doctor))["Authorization"].removeprefix("Bearer ")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine().sync_engine
    principal_cache.CACHE.clear()  # the cost of a read, not of a kept answer (0 statements)
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = await accounts.principal_from_cookie(db, cookie)
        on_page = len(statements)
        api = await accounts.principal_from_bearer(db, bearer)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    await db.rollback()
    assert page.facility_names == NAMES
    assert page.facility_name == "Family polyclinic No. 7"
    assert api.facility_name is None  # the API answers codes; no read for a name
    assert on_page == 1, statements
    assert len(statements) - on_page == 1, statements
