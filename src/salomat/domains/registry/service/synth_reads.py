"""The register's reads for the synthetic generators of other programmes
(``salomat synth``): the insurance fund names an entrepreneur's or an independent
payer's payer row after the person, as the fund's file would.

A read of the ``person`` table belongs to the registry (DESIGN, rules of direction): a
generator asks here instead of querying it. Synchronous, on the bulk writer's engine,
like the generators; in chunks of 1,000 ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from salomat.domains.registry.models import Person

__all__ = ["synthetic_names"]

_CHUNK = 1000


def synthetic_names(engine: Engine, person_ids: Sequence[int]) -> dict[int, str]:
    """``{person id: "family given"}`` for the ids found (a missing id is left out)."""
    out: dict[int, str] = {}
    ids = list(person_ids)
    with engine.connect() as conn:
        for k in range(0, len(ids), _CHUNK):
            found = conn.execute(
                select(Person.id, Person.family_name, Person.given_name).where(
                    Person.id.in_(ids[k : k + _CHUNK])
                )
            )
            out.update({pid: f"{fam} {giv}" for pid, fam, giv in found})
    return out
