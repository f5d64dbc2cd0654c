"""Bulk loading of generated or imported rows: COPY on PostgreSQL, batched inserts on SQLite.

The request path never uses this: it is for jobs that write hundreds of
thousands of rows at once (``salomat synth``), where one INSERT per row
costs more than the data. Rows carry their primary keys, assigned by the
caller from :meth:`BulkWriter.next_id`, so a job can refer to what it wrote
without reading it back; :meth:`BulkWriter.finish` moves the sequences past
them so the application's own inserts go on from there.

Secondary indexes and triggers of the tables being loaded can be set aside
while loading (:meth:`BulkWriter.deferred`) and rebuilt once at the end:
building an index once is several times faster than maintaining it row by row.
Constraints (primary keys, unique, foreign keys, CHECK) stay in force.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import JSON, Engine, Table, insert, text

__all__ = ["BulkWriter"]

#: rows per SQLite executemany and per PostgreSQL COPY flush of the progress callback
CHUNK = 10_000


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


class BulkWriter:
    """Writes rows to tables of one database through one connection.

    Not a unit of work: each :meth:`write` commits, so a job that fails halfway
    leaves what it wrote (``salomat synth`` refuses a database that has people,
    so a failed load is redone on an empty one).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._next: dict[str, int] = {}
        #: tables inside ``deferred``: SQLite loads them without per-row foreign-key checks
        self._unchecked: set[str] = set()
        self._written: set[str] = set()

    # ---- ids ---------------------------------------------------------------------

    def next_id(self, table: Table, count: int = 1) -> int:
        """Reserve ``count`` primary keys of ``table``; returns the first."""
        name = table.name
        if name not in self._next:
            pk = next(iter(table.primary_key.columns)).name
            with self.engine.connect() as conn:
                top = conn.execute(text(f'SELECT MAX("{pk}") FROM "{name}"')).scalar()  # noqa: S608
            self._next[name] = (top or 0) + 1
        first = self._next[name]
        self._next[name] = first + count
        return first

    def finish(self) -> None:
        """Move each PostgreSQL sequence past the ids written (SQLite needs nothing)."""
        if self.dialect != "postgresql":
            return
        with self.engine.begin() as conn:
            for name in sorted(set(self._next) | self._written):
                seq = conn.execute(
                    text(
                        "SELECT pg_get_serial_sequence(:t, 'id') FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = :t "
                        "AND column_name = 'id'"
                    ),
                    {"t": name},
                ).scalar()
                if seq:
                    conn.execute(
                        text(f'SELECT setval(:s, (SELECT COALESCE(MAX(id), 1) FROM "{name}"))'),  # noqa: S608
                        {"s": seq},
                    )

    # ---- rows --------------------------------------------------------------------

    def write(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write tuples of ``columns`` to ``table``; returns how many rows were written."""
        self._written.add(table.name)
        if self.dialect == "postgresql":
            return self._copy(table, columns, rows, progress)
        return self._insert(table, columns, rows, progress)

    def _copy(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        progress: Callable[[int], None] | None,
    ) -> int:
        cols = ", ".join(f'"{c}"' for c in columns)
        written = 0
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:  # type: ignore[attr-defined]
                pending = 0
                json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
                for row in rows:
                    if json_at:
                        row = list(row)
                        for i in json_at:
                            row[i] = _pg_value(row[i])
                    copy.write_row(row)
                    pending += 1
                    if pending == CHUNK:
                        written += pending
                        if progress:
                            progress(pending)
                        pending = 0
                written += pending
                if progress and pending:
                    progress(pending)
            raw.commit()
        finally:
            raw.close()
        return written

    def _insert(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        progress: Callable[[int], None] | None,
    ) -> int:
        written = 0
        statement = insert(table)
        iterator: Iterator[Sequence[Any]] = iter(rows)
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            if table.name in self._unchecked:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            while batch := list(islice(iterator, CHUNK)):
                conn.execute(statement, [dict(zip(columns, r, strict=True)) for r in batch])
                conn.commit()
                written += len(batch)
                if progress:
                    progress(len(batch))
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        return written

    # ---- indexes and triggers ------------------------------------------------------

    @contextmanager
    def deferred(self, tables: Sequence[str]) -> Iterator[None]:
        """Drop the plain secondary indexes and triggers of ``tables``; rebuild them after.

        Unique indexes stay (they are invariants). Foreign keys are checked once
        for the whole table at the end instead of row by row (PostgreSQL: dropped
        and added back, which validates every row; SQLite: not enforced while
        loading, then ``PRAGMA foreign_key_check``), so a wrong reference still
        fails the load. On SQLite the person search index (FTS5, kept by
        triggers) is rebuilt from the table at the end.
        """
        saved_indexes: list[tuple[str, str]] = []
        saved_triggers: list[tuple[str, str]] = []
        saved_fks: list[tuple[str, str, str]] = []
        with self.engine.begin() as conn:
            for t in tables:
                if self.dialect == "postgresql":
                    saved_fks += [
                        (t, n, d)
                        for n, d in conn.execute(
                            text(
                                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
                            ),
                            {"t": t},
                        ).all()
                    ]
                    saved_indexes += [
                        (n, d)
                        for n, d in conn.execute(
                            text(
                                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
                                "AND schemaname = current_schema()"
                            ),
                            {"t": t},
                        ).all()
                        if " UNIQUE " not in d
                    ]
                else:
                    saved_indexes += [
                        (n, d)
                        for n, d in conn.execute(
                            text(
                                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                "AND tbl_name = :t AND sql IS NOT NULL"
                            ),
                            {"t": t},
                        ).all()
                        if "UNIQUE" not in d.upper().split("INDEX")[0]
                    ]
                    saved_triggers += list(
                        conn.execute(
                            text(
                                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND tbl_name = :t"
                            ),
                            {"t": t},
                        ).all()
                    )
            for name, _ in saved_indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
            for name, _ in saved_triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for table, name, _ in saved_fks:
                conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
        self._unchecked.update(tables)
        try:
            yield
        finally:
            self._unchecked.difference_update(tables)
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
                for table, name, ddl in saved_fks:
                    conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {ddl}'))
                if self.dialect == "sqlite":
                    for t in tables:
                        wrong = conn.exec_driver_sql(f'PRAGMA foreign_key_check("{t}")').first()
                        if wrong is not None:
                            raise ValueError(f"{t}: a row refers to a missing {wrong[2]} row")
                for _, ddl in saved_indexes:
                    conn.execute(text(ddl))
                for _, ddl in saved_triggers:
                    conn.execute(text(ddl))
                if self.dialect == "sqlite" and "person" in tables:
                    rebuild = "INSERT INTO search_person(search_person) VALUES ('rebuild')"
                    conn.execute(text(rebuild))

    def analyze(self) -> None:
        """Refresh the planner's statistics after a load."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with self.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
