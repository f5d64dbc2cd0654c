"""The bulk writer ``salomat synth`` loads through: ids, sequences, deferred checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, insert, select, text

from salomat.core.bulk import BulkWriter
from salomat.domains.registry.models import Attachment, Person
from tests.synth_support import empty_database, sync_url

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _person(pid: int) -> tuple[object, ...]:
    return (pid, f"Family{pid}", "Given", "latn", "family given", "family", date(1990, 1, 1),
            "female", 1, NOW, NOW)  # fmt: skip


PERSON_COLUMNS = (
    "id", "family_name", "given_name", "name_script", "name_key", "family_key", "birth_date",
    "sex", "version", "created_at", "updated_at",
)  # fmt: skip


@pytest.fixture
def writer():  # type: ignore[no-untyped-def]
    with empty_database() as url:  # at head
        engine = create_engine(sync_url(url))
        try:
            yield BulkWriter(engine)
        finally:
            engine.dispose()


def test_rows_written_with_their_ids_and_next_id_continues_after_them(writer: BulkWriter) -> None:
    table = Person.__table__
    first = writer.next_id(table, 3)
    assert first == 1
    n = writer.write(table, PERSON_COLUMNS, [_person(first + i) for i in range(3)])
    assert n == 3
    assert writer.next_id(table) == 4
    with writer.engine.connect() as conn:
        assert conn.execute(select(Person.id).order_by(Person.id)).scalars().all() == [1, 2, 3]


def test_finish_moves_the_sequence_of_every_table_written(writer: BulkWriter) -> None:
    """Ids the writer chose itself (no ``next_id``) must not collide with the app's next row."""
    writer.write(Person.__table__, PERSON_COLUMNS, [_person(i) for i in (1, 2, 500)])
    writer.finish()
    with writer.engine.begin() as conn:
        row = {c: v for c, v in zip(PERSON_COLUMNS, _person(0), strict=True) if c != "id"}
        new_id = conn.execute(insert(Person.__table__).values(**row)).inserted_primary_key[0]
    assert new_id == 501


def test_deferred_rebuilds_the_indexes_it_set_aside(writer: BulkWriter) -> None:
    def indexes() -> set[str]:
        with writer.engine.connect() as conn:
            if writer.dialect == "postgresql":
                sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'person'"
            else:
                sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'person'"
            return set(conn.execute(text(sql)).scalars())

    before = indexes()
    with writer.deferred(["person"]):
        assert "ix_person_birth_date" not in indexes()
        writer.write(Person.__table__, PERSON_COLUMNS, [_person(i) for i in range(1, 50)])
    assert indexes() == before


def test_a_wrong_reference_still_fails_the_load_when_checks_are_deferred(
    writer: BulkWriter,
) -> None:
    writer.write(Person.__table__, PERSON_COLUMNS, [_person(1)])
    columns = ("id", "person_id", "facility_id", "start_on", "recorded_by", "recorded_at")
    row = (1, 1, 999, date(2026, 1, 1), "t", NOW)  # facility 999 does not exist
    with (
        pytest.raises(Exception, match=r"facility|foreign key|FOREIGN KEY"),
        writer.deferred(["attachment"]),
    ):
        writer.write(Attachment.__table__, columns, [row])
