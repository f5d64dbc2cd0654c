"""Chained and reverse-chained searches of the shared record (R4 search, "Chained
parameters" and "Reverse Chaining").

``subject:Patient.identifier=<system>|<value>`` (also ``subject.identifier``,
``patient.identifier``, ``patient:Patient.identifier``) on the record's types: the
persons the identifiers name, through the registry (a Patient carries the national id
only, so another system's identifier, registered or not, names nobody; a merged person's
id names the survivor), then the search's usual scope rules. ``Patient?_has:<Type>:
<patient|subject>:<param>=<value>`` (fhir/patient_api.py): the persons with a record
resource matching the inner parameter, whom the Patient search then narrows to those
the caller may see.
"""

from __future__ import annotations

import re
from typing import Any

from salomat.core.errors import N_, FieldError, Forbidden, Invalid
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.registry import service as registry
from salomat.fhir import patient as patient_mapper
from salomat.fhir.common import Params
from salomat.fhir.record_params import (
    MERGED,
    MODIFIERS,
    OWN_RESULT,
    RESOURCE_TYPES,
    RESULT,
    SEARCH_PARAMS,
    parse_token,
    read_query,
)

__all__ = [
    "CHAIN_DOC",
    "HAS_DOC",
    "MAX_HAS_PEOPLE",
    "chained_persons",
    "chains",
    "has_persons",
    "is_chain",
    "is_has",
    "merged_chain",
    "refused_chains",
]

#: the most persons one ``_has`` may name before the Patient search checks their scope
MAX_HAS_PEOPLE = 1000
CHAIN_DOC = (
    "chains: subject:Patient.identifier, subject.identifier, patient:Patient.identifier, "
    "patient.identifier = <system>|<value> or <value> (comma: any of them): the persons "
    "with that national id (a merged one's survivor; another system's identifier names "
    "nobody), then the usual scope; on a type another register shares, a chain on patient "
    "alone (or with that search's filters) is merged with the register's share of each "
    "person as patient is, one on subject is the record's alone; any other chain 422"
)
HAS_DOC = (
    "Patient?_has:<Type>:<patient|subject>:<param>=<value>, <Type> one of the record's, "
    "<param> one of its search parameters (with :missing / :not as it takes them): the "
    "patients with such a resource, only those the caller may see; repeated: all of them; "
    f"at most {MAX_HAS_PEOPLE} persons before scope (else 422: narrow it)"
)
#: a NUL (no database text holds one) or a lone surrogate (no UTF-8 encodes one)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: what ``_has``'s inner parameter may not be: the person itself, or the result's shape
_NOT_INNER = frozenset({"patient", "subject", "_sort", "_summary", "_count", "_offset"})


def _references(resource_type: str) -> tuple[str, ...]:
    return ("patient",) if resource_type == "AllergyIntolerance" else ("patient", "subject")


def chains(resource_type: str) -> frozenset[str]:
    """The chained parameters a search of ``resource_type`` takes."""
    return frozenset(
        f"{ref}{via}identifier" for ref in _references(resource_type) for via in (".", ":Patient.")
    )


def merged_chain(resource_type: str, items: list[tuple[str, str]]) -> bool:
    """Whether a search is a chain on ``patient`` (``patient.identifier``,
    ``patient:Patient.identifier``) of a type another register shares, with only what a
    search by ``patient`` merged with that register takes besides: then it is merged, by
    the persons the chain names (record_merged.py). A chain on ``subject`` searches the
    record alone, as ``subject`` does."""
    if resource_type not in MERGED:
        return False
    names = {k for k, _ in items} - RESULT - OWN_RESULT
    asked = {k for k in names if k.startswith("patient") and k in chains(resource_type)}
    return bool(asked) and names - asked <= MERGED[resource_type]


def is_chain(key: str) -> bool:
    """Whether ``key`` asks a chain (``a.b``, ``a:Type.b``): one the record takes or
    one to refuse naming it."""
    return "." in key


async def _persons_of(session: Any, key: str, raw: str) -> set[int]:
    national = patient_mapper.national_system()
    values: list[str] = []
    if _UNSTORABLE.search(raw):
        raise Invalid.fields([FieldError(key, N_("Contains a character that cannot be stored."))])
    for value in raw.split(","):
        system, code = parse_token(value)
        if not code:
            raise Invalid.fields(
                [FieldError(key, N_("give the identifier: <system>|<value> or <value>"))]
            )
        if system is None or system == national:
            values.append(code)
    found = await registry.person_ids_by_national_ids(session, values) if values else {}
    return set(found.values())


def refused_chains(resource_type: str, names: set[str]) -> list[FieldError]:
    """Each chain of ``names`` the record does not take, refused naming it."""
    ours = chains(resource_type)
    return [
        FieldError(
            k,
            N_("The shared record chains only %(chains)s."),
            {"chains": ", ".join(sorted(ours))},
        )
        for k in sorted(names)
        if is_chain(k) and k not in ours
    ]


async def chained_persons(
    session: Any, resource_type: str, items: list[tuple[str, str]]
) -> list[int] | None:
    """The persons the search's chains name (each chain's commas: any; several chains:
    all), None when it has none. A chain the record does not take is refused naming
    it."""
    refused = refused_chains(resource_type, {k for k, _ in items})
    if refused:
        raise Invalid.fields(refused)
    asked = [(k, v) for k, v in items if is_chain(k)]
    if not asked:
        return None
    persons: set[int] | None = None
    for key, raw in asked:
        found = await _persons_of(session, key, raw)
        persons = found if persons is None else persons & found
    return sorted(persons or ())


def is_has(key: str) -> bool:
    return key.startswith("_has:")


def _inner(key: str) -> tuple[str, str]:
    """(type, inner parameter) of ``_has:<Type>:<ref>:<param>``; refused naming ``key``
    when it is not one the record answers."""
    parts = key.split(":")
    target = parts[1] if len(parts) > 1 else ""
    ref = parts[2] if len(parts) > 2 else ""
    inner = ":".join(parts[3:])
    if (
        len(parts) < 4
        or target not in RESOURCE_TYPES
        or ref not in _references(target)
        or inner in _NOT_INNER
        or inner not in set(SEARCH_PARAMS[target]) | MODIFIERS[target]
    ):
        raise Invalid.fields(
            [
                FieldError(
                    key,
                    N_(
                        "Give _has:<Type>:patient:<parameter>, <Type> one of %(types)s "
                        "and <parameter> one of its search parameters."
                    ),
                    {"types": ", ".join(RESOURCE_TYPES)},
                )
            ]
        )
    return target, inner


async def has_persons(
    session: Any, principal: Principal, items: list[tuple[str, str]]
) -> list[int] | None:
    """The persons every ``_has`` of ``items`` names (ascending), None when there is
    none. Needs ``record:read`` (it reads the record to choose whom to show); more than
    MAX_HAS_PEOPLE persons is refused naming the parameter."""
    asked = [(k, v) for k, v in items if is_has(k)]
    if not asked:
        return None
    if not allowed(principal.role, "record:read"):
        raise Forbidden(N_("Searching by the shared record (_has) needs access to it."))
    persons: set[int] | None = None
    for key, raw in asked:
        target, inner = _inner(key)
        allowed_names = frozenset(SEARCH_PARAMS[target]) | MODIFIERS[target]
        q = read_query(target, Params([(inner, raw)], allowed_names))
        found: set[int] = set()
        if q is not None:
            got = await record.people_with(session, target, q, limit=MAX_HAS_PEOPLE)
            if len(got) > MAX_HAS_PEOPLE:
                raise Invalid.fields(
                    [
                        FieldError(
                            key,
                            N_(
                                "More than %(max)s persons have such a resource: narrow "
                                "the search (a name, an identifier or a closer value)."
                            ),
                            {"max": MAX_HAS_PEOPLE},
                        )
                    ]
                )
            found = set(got)
        persons = found if persons is None else persons & found
    return sorted(persons or ())
