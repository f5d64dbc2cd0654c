"""A name search finds the names a typed word begins ("Kari" finds Karimova).

The properties run the index queries themselves without the app: the SQLite
step (an FTS5 trigram table in memory, as migration 0002 makes it), the
PostgreSQL step (``LIKE '%form%'`` on the key) and the score that ranks and
filters the pool. The API tests check the same through a real database on
both backends, and the web page and FHIR ``Patient?name=`` that share it.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.country import names
from salomat.domains.registry.service.search import (
    PREFIX_MIN,
    _fts_terms,
    name_similarity,
    prefix_forms,
)
from salomat.domains.registry.service.synth_names import POOLS, female_family, written
from tests.factories import unique_name

#: (family name, the country whose transliteration writes it in the other script)
FAMILIES = sorted(
    {
        (f, country)
        for pool, countries in (("uz", ["UZ"]), ("kz", ["KZ"]), ("ru", ["UZ", "KZ"]))
        for base in POOLS[pool][2]
        for f in (base, female_family(base))
        for country in countries
    }
)


@st.composite
def registered_and_typed(draw: st.DrawFn) -> tuple[str, str]:
    """(the stored name key of a family name, the beginning of it a searcher typed).

    The family is written in a script the registrar chose and typed back in
    either script: a Latin registration is found by a Cyrillic prefix.
    """
    family, country = draw(st.sampled_from(FAMILIES))
    script = draw(st.sampled_from(["latn", "cyrl"]))
    stored, other, _ = written(family, script, country)
    shown = draw(st.sampled_from([stored, other]))
    if names.skeleton(other) != names.skeleton(stored):
        shown = stored  # the pack's transliteration does not give back the same name key
    k = draw(st.integers(1, len(shown)))
    key = names.name_key(stored, "Dilnoza", None)
    return key, shown[:k]


def _fts_finds(key: str, match: str | None) -> bool:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE search_person USING fts5(name_key, tokenize='trigram')")
    db.execute("INSERT INTO search_person(rowid, name_key) VALUES (1, ?)", (key,))
    if match is None:
        return True  # the step does not constrain (no trigram in the query)
    rows = db.execute("SELECT rowid FROM search_person WHERE search_person MATCH ?", (match,))
    return rows.fetchall() == [(1,)]


@settings(max_examples=600, deadline=None)
@given(registered_and_typed())
def test_a_prefix_of_three_letters_or_more_finds_the_name_in_both_indexes(case):
    key, typed = case
    forms = prefix_forms(typed)
    if len(forms[0]) < PREFIX_MIN:
        return  # the boundary, tested below
    assert _fts_finds(key, _fts_terms([forms])), (typed, key, forms)
    assert any(f in key for f in forms), (typed, key, forms)  # LIKE '%form%' on PostgreSQL
    assert name_similarity([forms], key, prefix=True) > 0, (typed, key, forms)


@settings(max_examples=300, deadline=None)
@given(registered_and_typed())
def test_two_letters_match_only_a_whole_short_name(case):
    """Two letters ("Ka") are no prefix: they would list a good part of the registry."""
    key, typed = case
    forms = prefix_forms(typed)
    family = key.split()[0]
    if len(forms[0]) < PREFIX_MIN and len(family) >= 5:
        assert name_similarity([forms], key, prefix=True) == 0, (typed, key)


@given(st.sampled_from(FAMILIES))
def test_a_whole_name_ranks_above_the_longer_names_it_begins(case):
    family, _ = case
    typed = prefix_forms(family)
    own = names.name_key(family, "Dilnoza", None)
    longer = names.name_key(family + "bek", "Dilnoza", None)
    assert name_similarity([typed], own, prefix=True) > name_similarity(
        [typed], longer, prefix=True
    )


def test_the_duplicate_check_does_not_count_a_prefix_as_the_same_name():
    """Registering "Kari" is not "Karimova": the prefix belongs to the search only."""
    key = names.name_key("Karimova", "Dilnoza", None)
    assert name_similarity(["kari"], key) == 0
    assert name_similarity([prefix_forms("Kari")], key, prefix=True) > 0.9


# ---- through the API, the page and FHIR, on the test database -----------------------------

BIRTH = date(1991, 3, 4)


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


async def _register(client, headers, family: str, given: str, sex: str = "female") -> int:
    r = await client.post(
        "/api/v1/persons",
        json={
            "family_name": family,
            "given_name": given,
            "birth_date": BIRTH.isoformat(),
            "sex": sex,
            "duplicate_reason": "a different person, checked",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _found(client, headers, name: str) -> list[int]:
    r = await client.get("/api/v1/persons", params={"name": name, "limit": 100}, headers=headers)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


@pytest.mark.anyio
async def test_kari_finds_karimova_and_karimov_in_either_script(client, registrar):
    stem = "Kari" + unique_name("M").lower()  # unique in this database, so hits are ours
    given = unique_name("Di")
    woman = await _register(client, registrar, stem + "ova", given)
    man = await _register(client, registrar, stem + "ov", given, sex="male")
    typed = stem[:6]
    assert {woman, man} <= set(await _found(client, registrar, typed))
    assert {woman, man} <= set(await _found(client, registrar, f"{typed} {given}"))
    cyrillic = names.latn_to_cyrl(typed, "UZ")
    assert {woman, man} <= set(await _found(client, registrar, cyrillic))
    # the whole family name as typed ranks its own bearer first
    hits = await _found(client, registrar, f"{stem}ov {given}")
    assert hits.index(man) < hits.index(woman)


@pytest.mark.anyio
async def test_a_prefix_cut_inside_kh_finds_the_name(client, registrar):
    stem = "Ma" + unique_name("Z").lower()
    given = unique_name("Ra")
    pid = await _register(client, registrar, stem + "khmudov", given, sex="male")
    assert pid in await _found(client, registrar, f"{stem}k {given}")
    assert pid in await _found(client, registrar, f"{stem}kh {given}")


@pytest.mark.anyio
async def test_two_letters_do_not_list_everyone_and_typos_still_match(client, registrar):
    family = "Qo" + unique_name("Rr").lower() + "ova"
    given = unique_name("Ni")
    pid = await _register(client, registrar, family, given)
    assert pid not in await _found(client, registrar, f"{family[:2]} {given}")
    # one letter wrong in the whole family name: the existing tolerance
    slipped = family[:4] + ("a" if family[4] != "a" else "e") + family[5:]
    assert pid in await _found(client, registrar, f"{slipped} {given}")


@pytest.mark.anyio
async def test_the_page_and_fhir_find_by_a_prefix(client, registrar):
    stem = "Kari" + unique_name("P").lower()
    given = unique_name("Lo")
    pid = await _register(client, registrar, stem + "ova", given)
    page = await client.get("/patients", params={"name": stem[:6]}, headers=registrar)
    assert page.status_code == 200
    assert f"/patients/{pid}" in page.text
    bundle = await client.get("/fhir/Patient", params={"name": stem[:6]}, headers=registrar)
    assert bundle.status_code == 200, bundle.text
    ids = [e["resource"]["id"] for e in bundle.json().get("entry", [])]
    assert str(pid) in ids
