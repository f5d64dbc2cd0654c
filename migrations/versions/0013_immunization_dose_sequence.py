"""doses counted in order: stored validity recomputed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 20:00:00

A dose's place in its series is now derived from the person's valid doses in
date order (``service.counting``), not from the number recorded on it:
``counted_as`` holds that place, and the one-valid-dose-per-number index
becomes one-dose-per-counted-place. Every stored dose is recounted with the
deployed country's calendar (``SALOMAT_COUNTRY``), person by person in
batches: first every valid dose is assumed to count as recorded (one UPDATE),
then only the rows the engine judges otherwise are written. The number of
doses whose meaning changed is printed and logged.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

COUNTED_DOSE = "counted_as IS NOT NULL AND status = 'completed'"
VALID_DOSE = "valid AND status = 'completed'"
#: people per batch (their doses are read in one statement and judged in Python)
BATCH = 5000
DOWNGRADE_REASON = "a second valid dose with this recorded number (undone migration 0013)"


class _Row:
    """A stored dose as the engine reads it."""

    __slots__ = ("antigen", "dose_number", "given_on", "id", "invalid_reason", "status", "valid")

    def __init__(self, r: Any) -> None:
        self.id = r.id
        self.antigen = r.antigen
        self.dose_number = r.dose_number
        self.given_on = r.given_on
        self.valid = bool(r.valid)
        self.invalid_reason = r.invalid_reason
        self.status = r.status


def _as_date(v: Any) -> Any:
    from datetime import date

    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def recount(bind: sa.Connection, country: str) -> dict[str, int]:
    """Judge every stored dose again; returns what changed."""
    from salomat.domains.immunization.service import counting, rules

    cal = rules.calendar(country)
    antigens = sorted({s.antigen for s in cal.series})
    # what the old rule meant: a valid dose counted as the number recorded on it
    bind.execute(
        sa.text(
            "UPDATE immunization_dose SET counted_as = dose_number "
            "WHERE valid AND status = 'completed' AND antigen IN :antigens"
        ).bindparams(sa.bindparam("antigens", expanding=True)),
        {"antigens": antigens},
    )
    update = sa.text(
        "UPDATE immunization_dose SET counted_as = :counted_as, valid = :valid, "
        "invalid_reason = :invalid_reason WHERE id = :id"
    )
    read = sa.text(
        "SELECT d.id, d.person_id, d.antigen, d.dose_number, d.given_on, d.valid, "
        "d.invalid_reason, d.status, d.counted_as, p.birth_date FROM immunization_dose d "
        "JOIN person p ON p.id = d.person_id WHERE d.person_id > :lo AND d.person_id <= :hi "
        "ORDER BY d.person_id, d.given_on, d.id"
    )
    stats = {"people": 0, "doses": 0, "changed": 0, "validity": 0, "renumbered": 0}
    after = 0
    while True:
        hi = bind.execute(
            sa.text(
                "SELECT max(person_id) FROM (SELECT DISTINCT person_id FROM immunization_dose "
                "WHERE person_id > :lo ORDER BY person_id LIMIT :n) AS page"
            ),
            {"lo": after, "n": BATCH},
        ).scalar()
        if hi is None:
            break
        people: dict[int, list[Any]] = defaultdict(list)
        births: dict[int, Any] = {}
        for r in bind.execute(read, {"lo": after, "hi": hi}):
            people[r.person_id].append(r)
            births[r.person_id] = _as_date(r.birth_date)
        changes = []
        for person_id, rows in people.items():
            doses = [_Row(r) for r in rows]
            for d in doses:
                d.given_on = _as_date(d.given_on)
            verdicts = counting.count_doses(births[person_id], doses, cal)
            for r, v in zip(rows, verdicts, strict=True):
                stats["doses"] += 1
                if v is None or v.unknown:
                    continue  # entered in error, or not the calendar's: left as stored
                was = (bool(r.valid), r.invalid_reason, r.counted_as)
                now = (v.valid, v.reason, v.counted_as)
                if was == now:
                    continue
                stats["changed"] += 1
                stats["validity"] += was[0] != now[0]
                stats["renumbered"] += v.counted_as is not None and v.counted_as != r.dose_number
                changes.append(
                    {
                        "id": r.id,
                        "counted_as": v.counted_as,
                        "valid": v.valid,
                        "invalid_reason": v.reason,
                    }
                )
        if changes:
            bind.execute(update, changes)
        stats["people"] += len(people)
        after = hi
    return stats


def upgrade() -> None:
    from salomat.core.config import get_settings

    op.drop_index("ux_immunization_dose_valid", table_name="immunization_dose")
    with op.batch_alter_table("immunization_dose", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted_as", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            "counted_valid", "counted_as IS NULL OR (valid AND counted_as >= 1)"
        )
    country = get_settings().country
    stats = recount(op.get_bind(), country)
    message = (
        f"0013: {stats['doses']} doses of {stats['people']} people recounted in order "
        f"({country} calendar): {stats['changed']} changed, {stats['validity']} of them "
        f"valid/invalid, {stats['renumbered']} count as another dose than recorded"
    )
    log.info(message)
    print(message)
    op.create_index(
        "ux_immunization_dose_counted",
        "immunization_dose",
        ["person_id", "antigen", "counted_as"],
        unique=True,
        sqlite_where=sa.text(COUNTED_DOSE),
        postgresql_where=sa.text(COUNTED_DOSE),
    )


def downgrade() -> None:
    op.drop_index("ux_immunization_dose_counted", table_name="immunization_dose")
    # the old rule keeps one valid dose per recorded number: later ones stop counting
    op.get_bind().execute(
        sa.text(
            "UPDATE immunization_dose SET valid = :no, invalid_reason = :why, counted_as = NULL "
            "WHERE valid AND status = 'completed' AND EXISTS (SELECT 1 FROM immunization_dose o "
            "WHERE o.person_id = immunization_dose.person_id "
            "AND o.antigen = immunization_dose.antigen "
            "AND o.dose_number = immunization_dose.dose_number "
            "AND o.valid AND o.status = 'completed' "
            "AND (o.given_on < immunization_dose.given_on "
            "OR (o.given_on = immunization_dose.given_on AND o.id < immunization_dose.id)))"
        ),
        {"no": False, "why": DOWNGRADE_REASON},
    )
    with op.batch_alter_table("immunization_dose", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_immunization_dose_counted_valid"), type_="check")
        batch_op.drop_column("counted_as")
    op.create_index(
        "ux_immunization_dose_valid",
        "immunization_dose",
        ["person_id", "antigen", "dose_number"],
        unique=True,
        sqlite_where=sa.text(VALID_DOSE),
        postgresql_where=sa.text(VALID_DOSE),
    )
