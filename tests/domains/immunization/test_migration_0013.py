"""Migration 0013 recounts the stored doses in order, and its downgrade keeps the old index."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from salomat.core import migrate
from tests.test_migrations import connect, revision, scratch_url  # noqa: F401  (a fixture)

BORN = date(2025, 1, 15)


def _insert(conn: sa.Connection, antigen: str, n: int, on: date, valid: bool, why: str | None):
    conn.execute(
        sa.text(
            "INSERT INTO immunization_dose (person_id, antigen, dose_number, given_on, valid, "
            "invalid_reason, status, source, recorded_by, recorded_at, version) VALUES "
            "(1, :a, :n, :on, :valid, :why, 'completed', 'elsewhere', 't', :at, 1)"
        ),
        {"a": antigen, "n": n, "on": on, "valid": valid, "why": why, "at": datetime(2026, 1, 1)},
    )


def _doses(conn: sa.Connection) -> list[tuple[str, int, bool, int | None]]:
    rows = conn.execute(
        sa.text(
            "SELECT antigen, dose_number, valid, counted_as FROM immunization_dose "
            "ORDER BY antigen, given_on, id"
        )
    )
    return [(a, n, bool(v), c) for a, n, v, c in rows]


def test_the_upgrade_recounts_and_the_downgrade_restores_one_valid_dose_per_number(
    scratch_url: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    migrate.upgrade(scratch_url, "0012")
    with connect(scratch_url) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO person (id, family_name, given_name, name_script, name_key, "
                "family_key, birth_date, sex, version, created_at, updated_at) VALUES "
                "(1, 'Karimov', 'Sardor', 'latn', 'k', 'k', :born, 'male', 1, :at, :at)"
            ),
            {"born": BORN, "at": datetime(2026, 1, 1)},
        )
        # stored by the old rule, which judged each dose by the number written on it:
        # PCV: a lone dose written as 3 (valid: 9 months and no dose 2 to count from)
        _insert(conn, "pcv", 3, date(2025, 11, 1), True, None)
        # Penta: 1 valid; "2" five days later invalid; "3" at 100 days valid (nothing
        # to count from, as dose 2 was invalid)
        _insert(conn, "penta", 1, date(2025, 3, 16), True, None)
        _insert(conn, "penta", 2, date(2025, 3, 21), False, "before the minimum age (10w)")
        _insert(conn, "penta", 3, date(2025, 4, 25), True, None)
        # OPV 1 on time: nothing changes
        _insert(conn, "opv", 1, date(2025, 3, 16), True, None)
        conn.commit()
    migrate.upgrade(scratch_url, "0013")
    assert revision(scratch_url) == "0013"
    with connect(scratch_url) as conn:
        assert _doses(conn) == [
            ("opv", 1, True, 1),
            ("pcv", 3, True, 1),  # counts as PCV 1
            ("penta", 1, True, 1),
            ("penta", 2, False, None),  # still too soon (now: after Penta 1)
            ("penta", 3, True, 2),  # the second valid Penta: DTP2, not DTP3
        ]
        why = conn.execute(
            sa.text("SELECT invalid_reason FROM immunization_dose WHERE dose_number = 2")
        ).scalar()
        assert why == "before the minimum age (10w; not before 2025-03-26)"
    # penta 2's reason (now with its date) and the two renumbered doses changed; OPV did not
    out = capsys.readouterr().out
    assert "5 doses of 1 people" in out
    assert "3 changed, 0 of them valid/invalid, 2 count as another dose than recorded" in out
    # two valid doses written as 1: the downgrade keeps the earlier one valid
    with connect(scratch_url) as conn:
        _insert(conn, "rota", 1, date(2025, 3, 16), True, None)
        conn.execute(sa.text("UPDATE immunization_dose SET counted_as = 1 WHERE antigen = 'rota'"))
        _insert(conn, "rota", 1, date(2025, 4, 16), True, None)
        conn.execute(
            sa.text(
                "UPDATE immunization_dose SET counted_as = 2 WHERE antigen = 'rota' "
                "AND given_on = :on"
            ),
            {"on": date(2025, 4, 16)},
        )
        conn.commit()
    migrate.downgrade(scratch_url, "0012")
    with connect(scratch_url) as conn:
        rota = conn.execute(
            sa.text(
                "SELECT valid, invalid_reason FROM immunization_dose WHERE antigen = 'rota' "
                "ORDER BY given_on"
            )
        ).all()
        assert [bool(v) for v, _ in rota] == [True, False]
        assert "undone migration 0013" in rota[1][1]
        cols = {c["name"] for c in sa.inspect(conn).get_columns("immunization_dose")}
        assert "counted_as" not in cols
    migrate.upgrade(scratch_url, "0013")  # and up again
    with connect(scratch_url) as conn:
        assert ("penta", 3, True, 2) in _doses(conn)
