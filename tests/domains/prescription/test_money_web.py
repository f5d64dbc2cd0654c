"""The price typed on the pharmacist's page, read in the page's language or refused there.

"1,500" is one thousand five hundred on the English page and is refused on the
Russian, Uzbek and Kazakh pages (the comma is their decimal separator: three
decimals are more than so'm and tenge have); it is never taken as 1.50. The
reference symbols are CLDR's (see tests/core/test_money.py).
"""

from __future__ import annotations

import re

import pytest
from babel.numbers import get_currency_precision
from sqlalchemy import select

from salomat.country import pack
from salomat.domains.prescription.models import Dispensing
from tests.domains.prescription.dispensing_data import make_case, pharmacist
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio

NBSP = "\u00a0"


async def _open(client, db, make_facility, make_person, make_user, lang):  # type: ignore[no-untyped-def]
    """A prescription looked up on the pharmacy page in ``lang``; its case and CSRF token."""
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50)
    await web_login(client, await pharmacist(make_facility, make_user))
    client.cookies.set("salomat_lang", lang)
    page = await client.get("/pharmacy")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    found = await client.post(
        "/pharmacy",
        data={"code": case.rx.code, "national_id": case.national_id, "csrf_token": csrf},
    )
    assert found.status_code == 200, found.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', found.text).group(1)
    return case, csrf, found.text


async def _post(client, case, csrf, price, action="dispense", **fields):  # type: ignore[no-untyped-def]
    data = {"packages": "1", "price": price, "action": action, "csrf_token": csrf, **fields}
    return await client.post(f"/pharmacy/prescriptions/{case.rx.id}/dispense", data=data)


async def _prices(db, case) -> list[int]:  # type: ignore[no-untyped-def]
    q = select(Dispensing.price).where(Dispensing.prescription_id == case.rx.id)
    return list((await db.execute(q)).scalars())


def _price_error(html: str) -> str:
    m = re.search(r'data-testid="error-price">([^<]*)<', html)
    assert m, "no message beside the price"
    return m.group(1)


@pytest.mark.parametrize(
    ("lang", "typed", "minor"),
    [
        ("en", "1,500", 150_000),
        ("en", "1,500.5", 150_050),
        ("ru", "1 500", 150_000),
        ("ru", "1,50", 150),
        ("uz", "12 345,67", 1_234_567),
        ("kk", f"1{NBSP}500,00", 150_000),
        ("kk", "350", 35_000),
    ],
)
async def test_a_price_is_read_in_the_pages_language(
    client, db, make_facility, make_person, make_user, lang, typed, minor
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, lang)
    r = await _post(client, case, csrf, typed)
    assert r.status_code == 303, r.text[:800]
    assert await _prices(db, case) == [minor]


@pytest.mark.parametrize("lang", ["ru", "uz", "kk"])
async def test_1_500_with_a_comma_is_refused_where_the_comma_is_decimal(
    client, db, make_facility, make_person, make_user, lang
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, lang)
    r = await _post(client, case, csrf, "1,500")
    assert r.status_code == 422, r.text[:800]
    message = _price_error(r.text)
    # the message shows how this page writes 1500 (CLDR: U+00A0 groups, comma decimal)
    assert f"1{NBSP}500,00" in message
    assert 'aria-invalid="true"' in r.text
    assert 'value="1,500"' in r.text  # what was typed stays in the field
    assert await _prices(db, case) == []


async def test_1_500_with_a_comma_is_fifteen_hundred_in_english_on_the_quote(
    client, db, make_facility, make_person, make_user
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, "en")
    r = await _post(client, case, csrf, "1,500", action="quote")
    assert r.status_code == 200, r.text[:800]
    price = re.search(r'data-testid="quote-price">([^<]*)<', r.text).group(1)
    assert price == "1,500.00"
    assert await _prices(db, case) == []  # a quote dispenses nothing


async def test_amounts_are_shown_in_the_pages_language(
    client, db, make_facility, make_person, make_user
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, "ru")
    r = await _post(client, case, csrf, "1 234,5", action="quote")
    assert r.status_code == 200, r.text[:800]
    price = re.search(r'data-testid="quote-price">([^<]*)<', r.text).group(1)
    assert price == f"1{NBSP}234,50"


@pytest.mark.parametrize(
    ("lang", "example"),
    [
        ("en", "1,500.00"),
        ("ru", f"1{NBSP}500,00"),
        ("uz", f"1{NBSP}500,00"),
        ("kk", f"1{NBSP}500,00"),
    ],
)
async def test_the_form_shows_the_expected_format(
    client, db, make_facility, make_person, make_user, lang, example
):
    _, _, html = await _open(client, db, make_facility, make_person, make_user, lang)
    field = re.search(r'<input id="d-price"[^>]*>', html).group(0)
    assert f'placeholder="{example}"' in field
    assert 'aria-describedby="d-price-hint"' in field
    hint = re.search(r'data-testid="price-hint">([^<]*)<', html).group(1)
    assert example in hint


@pytest.mark.parametrize(
    ("lang", "typed"),
    [
        ("en", "1,50,0"),
        ("en", "1.500,5"),
        ("en", "1 500"),
        ("en", "1.505"),
        ("ru", "1.5"),
        ("ru", "15 00"),
        ("uz", "1,500.50"),
        ("kk", "0,001"),
        ("en", "-5"),
        ("ru", "NaN"),
        ("kk", "Infinity"),
        ("en", "1e3"),
        ("en", ""),
        ("ru", "   "),
        ("en", "9" * 400),
        ("ru", "10 000 000,01"),  # one tiyin above the largest price the dispensing takes
        ("en", "\x00"),
        ("uz", "١٢٣"),
    ],
)
async def test_malformed_prices_are_refused_beside_the_field(
    client, db, make_facility, make_person, make_user, lang, typed
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, lang)
    r = await _post(client, case, csrf, typed)
    assert r.status_code == 422, r.text[:800]
    assert _price_error(r.text).strip()
    assert await _prices(db, case) == []


async def test_the_largest_price_is_taken(client, db, make_facility, make_person, make_user):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, "ru")
    r = await _post(client, case, csrf, "10 000 000,00")
    assert r.status_code == 303, r.text[:800]
    assert await _prices(db, case) == [1_000_000_000]


async def test_a_wrong_price_and_a_wrong_quantity_are_both_named(
    client, db, make_facility, make_person, make_user
):
    case, csrf, _ = await _open(client, db, make_facility, make_person, make_user, "en")
    r = await _post(client, case, csrf, "1,50,0", packages="", units="")
    assert r.status_code == 422, r.text[:800]
    assert _price_error(r.text)
    assert 'id="d-price-error"' in r.text
    assert await _prices(db, case) == []


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_currency_has_two_minor_digits(country):
    """ISO 4217: UZS 2 (tiyin), KZT 2 (tiyn); the prices are stored in these minor units."""
    from salomat.domains.prescription.web import MINOR_PLACES

    currency = pack.load(country)["currency"]
    assert get_currency_precision(currency) == MINOR_PLACES == 2
