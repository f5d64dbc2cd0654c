"""What a clerk enters about a person, checked, and the write step every change shares.

The national id against birth date and sex, names (with their other-script
forms and search keys), phone and settlement; a stale write refused and the
new version stored (``_save``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, PreconditionFailed
from salomat.core.security import Principal
from salomat.country import names
from salomat.country import national_id as nid
from salomat.domains.registry.models import Person, Territory
from salomat.domains.registry.schemas import PersonOut
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.people import RESOURCE, person_out

__all__ = [
    "check_identity",
    "reindex_names",
]


def _country() -> str:
    return get_settings().country


_NAME_OK = re.compile(r"^[^\W\d_]+(?:[ '\-ʻʼ‘’`][^\W\d_]+)*[ʻʼ'’]?$")


def check_identity(
    national_id: str | None, birth_date: date, sex: str, *, country: str | None = None
) -> list[str]:
    """The id is valid for the country and agrees with birth date and sex; returns warnings.

    A contradiction names both fields, so the clerk sees which two disagree.
    """
    if not national_id:
        return []
    country = country or _country()
    label = nid.name(country)
    try:
        parsed = nid.parse(national_id, country)
    except nid.NationalIdError as e:
        raise Invalid.fields(
            [
                FieldError(
                    "national_id", N_("not a valid %(label)s: %(why)s"), {"label": label, "why": e}
                )
            ]
        ) from None
    errors: list[FieldError] = []
    if parsed.birth_date != birth_date:
        encoded = f"{parsed.birth_date:%d.%m.%Y}"
        errors += [
            FieldError(
                "national_id",
                N_(
                    "this %(label)s encodes the birth date %(encoded)s, "
                    "but birth_date is %(entered)s"
                ),
                {"label": label, "encoded": encoded, "entered": f"{birth_date:%d.%m.%Y}"},
            ),
            FieldError(
                "birth_date",
                N_("does not match the %(label)s, which encodes %(encoded)s"),
                {"label": label, "encoded": encoded},
            ),
        ]
    if parsed.sex != sex:
        errors += [
            FieldError(
                "national_id",
                N_("this %(label)s belongs to a man, but the sex entered is female")
                if parsed.sex == "male"
                else N_("this %(label)s belongs to a woman, but the sex entered is male"),
                {"label": label},
            ),
            FieldError(
                "sex",
                N_("does not match the %(label)s, which encodes the other sex"),
                {"label": label},
            ),
        ]
    if errors:
        raise Invalid(
            N_("The %(label)s contradicts the birth date or sex entered."),
            errors=errors,
            params={"label": label},
        )
    return list(parsed.warnings)


def _check_names(family: str, given: str, patronymic: str | None) -> str:
    errors = [
        FieldError(f, N_("letters only (with spaces, hyphens or apostrophes between them)"))
        for f, v in (("family_name", family), ("given_name", given), ("patronymic", patronymic))
        if v and not _NAME_OK.match(v)
    ]
    if errors:
        raise Invalid.fields(errors)
    script = names.script_of(" ".join(v for v in (family, given, patronymic) if v))
    if script is None:
        raise Invalid.fields(
            [
                FieldError(f, N_("write all names in one script, Latin or Cyrillic"))
                for f in ("family_name", "given_name", "patronymic")
            ]
        )
    return script


def _name_fields(
    family: str, given: str, patronymic: str | None, *, check: bool = True
) -> dict[str, Any]:
    """The names as entered, their other-script forms and their search keys."""
    if check:
        script = _check_names(family, given, patronymic)
    else:
        script = names.script_of(" ".join(v for v in (family, given, patronymic) if v)) or "latn"
    country = _country()
    convert = names.cyrl_to_latn if script == "cyrl" else names.latn_to_cyrl
    return {
        "family_name": family,
        "given_name": given,
        "patronymic": patronymic,
        "name_script": script,
        "family_name_alt": convert(family, country),
        "given_name_alt": convert(given, country),
        "patronymic_alt": convert(patronymic, country) if patronymic else None,
        "family_key": names.skeleton(family)[:100],
        "name_key": names.name_key(family, given, patronymic)[:320],
    }


def _set_names(person: Person, family: str, given: str, patronymic: str | None) -> None:
    for key, value in _name_fields(family, given, patronymic).items():
        setattr(person, key, value)


async def _territory_id(session: AsyncSession, code: str | None, field: str) -> int | None:
    if code is None:
        return None
    row = (
        await session.execute(select(Territory.id, Territory.level).where(Territory.code == code))
    ).first()
    if row is None:
        raise Invalid.fields(
            [FieldError(field, N_("no settlement has code %(code)s"), {"code": code})]
        )
    if row.level != "settlement":
        raise Invalid.fields(
            [
                FieldError(
                    field, N_("%(code)s is a district or region, not a settlement"), {"code": code}
                )
            ]
        )
    return int(row.id)


def _check_version(person: Person, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != person.version:
        raise PreconditionFailed(
            N_(
                "The record changed since you read it (version %(current)s, "
                "you sent %(sent)s); reload and retry."
            ),
            params={"current": person.version, "sent": expected},
        )


async def _save(
    session: AsyncSession, principal: Principal, person: Person, warnings: list[str] | None = None
) -> PersonOut:
    person.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The record changed while you edited it; reload.") from e
    except IntegrityError as e:
        raise Conflict("Another person already has this national id.") from e
    out = await person_out(session, person, warnings)
    await versions.record_version(session, RESOURCE, out, action="update", by=principal.username)
    return out


async def reindex_names(session: AsyncSession, *, batch: int = 2000) -> int:
    """Recompute transliterations and search keys of everyone (after the rules changed).

    Run by ``salomat registry reindex``; keys written by an older version of
    ``country.names`` would otherwise make search and duplicate checks miss.
    Versions are not bumped: the names as entered do not change.
    """
    done, last = 0, 0
    while True:
        rows = (
            await session.execute(
                select(Person.id, Person.family_name, Person.given_name, Person.patronymic)
                .where(Person.id > last)
                .order_by(Person.id)
                .limit(batch)
            )
        ).all()
        if not rows:
            return done
        for row in rows:
            values = _name_fields(row.family_name, row.given_name, row.patronymic, check=False)
            await session.execute(
                update(Person)
                .where(Person.id == row.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        done += len(rows)
        last = rows[-1].id
