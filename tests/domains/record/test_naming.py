"""Identifier systems: registered by the administrator, listed with the built-in ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from salomat.core.errors import Conflict, NotFound
from salomat.domains.record import service as record
from salomat.domains.record.schemas import NamingSystemIn
from tests.factories import unique

pytestmark = pytest.mark.anyio


async def test_register_read_and_list(db, shr):
    name = unique("Republican lab")
    url = f"urn:oid:1.2.860.{abs(hash(name)) % 10**6}.1"
    out = await record.register_naming_system(
        db, shr.admin, NamingSystemIn(name=name, url=url, responsible="Ministry of Health")
    )
    await db.commit()
    assert (out.builtin, out.status, out.created_at is not None) == (False, "active", True)
    assert await record.get_naming_system(db, out.id) == out
    assert [n.id for n in await record.list_naming_systems(db, url=url)] == [out.id]
    assert [n.id for n in await record.list_naming_systems(db, name=name[:12].upper())] == [out.id]
    listed = await record.list_naming_systems(db)
    assert listed[0].builtin
    assert listed[0].id is None
    assert out.id in [n.id for n in listed]
    with pytest.raises(Conflict):
        await record.register_naming_system(db, shr.admin, NamingSystemIn(name="Again", url=url))
    await db.rollback()
    with pytest.raises(Conflict):  # the built-in national id system
        await record.register_naming_system(
            db, shr.admin, NamingSystemIn(name="Mine", url=listed[0].url)
        )
    with pytest.raises(NotFound):
        await record.get_naming_system(db, 999_999_999)


async def test_a_percent_in_a_name_search_is_a_character(db, shr):
    assert await record.list_naming_systems(db, name="%") == []


@pytest.mark.parametrize(
    "url",
    ["", "not a uri", "ftp://x.org/a", "urn:oid:1.02", "urn:uuid:123", "http://", "urn:isbn:1"],
)
def test_a_system_is_an_absolute_uri(url):
    with pytest.raises(ValidationError):
        NamingSystemIn(name="X", url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://his.example.uz/ids/encounter",
        "http://example.org",
        "urn:oid:2.16.860.1.3",
        "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
    ],
)
def test_these_are_systems(url):
    assert NamingSystemIn(name="X", url=url).url == url
