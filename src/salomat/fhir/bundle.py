"""Transactions and batches: ``POST /fhir`` with a Bundle (issue 18).

A Bundle whose Encounter belongs to a pregnancy (``episodeOfCare`` naming an
``EpisodeOfCare/<id>``) is an antenatal contact: a transaction goes to
fhir/maternal_exchange.py, unchanged; a batch is refused naming Bundle.type. Every other
transaction or batch is the shared health record's: POST (create, ``ifNoneExist``), PUT
(update of ``<Type>/shr-<n>``, ``ifMatch``) and GET (read, vread, history, search) of the
record's types, and Patient entries matched against the registry by national id
(``ifNoneExist``; registered through the Patient create when nobody has it and the
account may register people). A POST of an Observation declaring the screening profile
(or category) is a screening result: the screening create takes it (fhir/screening_api.
submit_observation: its checks, ``screening:record``), not the record's.
A POST of a Condition carrying a case notification's extension (``{EXT}notification-*``)
is a notification: epidemic surveillance stores it as ``POST /fhir/Condition/$notify``
does (``epidemic:report``), with, in a transaction, the laboratory Observation it refers
to (fhir/bundle_notification.py).

In a transaction, an entry's ``fullUrl`` (``urn:uuid:...`` or absolute) becomes the stored
``<Type>/<id>`` wherever R4 says it is replaced: references, elements of type uri, url,
canonical, oid or uuid, and the narrative's href/src; a reference ``<Type>/<id>`` names
the entry whose absolute fullUrl ends so (on the base of the referring entry's own
fullUrl). The entries are processed in R4's order: the POSTs (Patients, then Encounters,
then the rest, each after the POSTs it refers to), then the PUTs, then the GETs. A cycle,
an unknown ``urn:uuid:``, a resource written twice and a fullUrl given twice fail the
entry, naming the element. ``Patient?identifier=<system>|<value>`` (and
``<Type>?identifier=`` of the record's types) in a reference is resolved; no match or more
than one fails the entry. A batch's entries are independent of each other (R4): one that
refers to another entry fails.

A transaction is one unit of work: the first failing entry answers for the whole Bundle
(its status, the elements named from ``Bundle.entry[i]``) and nothing is stored. A batch
runs each entry in a savepoint of its own and reports each entry's outcome. Every write
and read goes through the record's service (scope, audit); each entry needs its own
permission (record:write for writes, record:read for reads; a search, what
``GET /fhir/<Type>?<query>`` needs: fhir/record_search.search_bundle answers both).

The module is split by use case: bundle_links.py (where a fullUrl may stand in a
resource), bundle_plan.py (the entries read, checked and ordered), bundle_run.py (each
entry run through its service), bundle_notification.py (a case notification's entries),
bundle_check.py (the answer checked against R4B).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core import audit
from salomat.core.errors import N_, SalomatError
from salomat.core.policy import Require, RequireAny
from salomat.core.security import Principal
from salomat.core.uow import DbSession

# the record's service as the entries call it (bundle_run.py): a test patches its writes
# through this module, as before the split
from salomat.domains.record import service as record
from salomat.fhir import maternal_exchange
from salomat.fhir.bundle_check import checked_response
from salomat.fhir.bundle_links import (
    NARRATIVE,
    REFERENCE,
    URI,
    _visit_links,
    links,
    references,
    rewrite_references,
)
from salomat.fhir.bundle_plan import (
    MAX_ENTRIES,
    _antenatal_contact,
    _bundle,
    _Entry,
    _entry,
    _invalid,
    _outcome,
    _plan,
    _status,
)
from salomat.fhir.bundle_run import _Run
from salomat.fhir.common import base_url, fhir_response

__all__ = [
    "MAX_ENTRIES",
    "NARRATIVE",
    "REFERENCE",
    "SYSTEM_INTERACTIONS",
    "URI",
    "Sender",
    "_visit_links",
    "checked_response",
    "links",
    "record",
    "references",
    "rewrite_references",
    "submit",
]

Session = DbSession

#: system-level interactions in ``/fhir/metadata``
SYSTEM_INTERACTIONS: list[dict[str, Any]] = [
    {
        "code": "transaction",
        "documentation": "all or nothing: the shared record's resources (POST with "
        "ifNoneExist, PUT with ifMatch, GET), Patients matched by national id "
        "(ifNoneExist), urn:uuid references between entries and Patient?identifier= "
        "references resolved; screening results (Observations with the "
        "screening-observation profile, checked and stored as POST Observation stores "
        "them); case notifications (a Condition with a notification-* extension, stored "
        "as POST Condition/$notify stores it, location Condition/epi-<n>, with the "
        "laboratory Observation it refers to as Observation/epi-lab-<n>); or one "
        "antenatal contact (an Encounter of an EpisodeOfCare and its Observations)",
    },
    {
        "code": "batch",
        "documentation": "the same entries, each on its own, with an outcome per entry; "
        "an entry may not refer to another entry of the batch",
    },
]


Sender = Annotated[
    Principal,
    Depends(
        RequireAny(
            "record:write",
            "record:read",
            "pregnancy:contact",
            "person:create",
            "screening:record",
            "epidemic:report",
        )
    ),
]


def _entry_out(e: _Entry, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if e.method == "GET" and e.resource is not None:
        if e.target is not None and e.rest != ["_history"]:
            out["fullUrl"] = f"{base}/{e.resource['resourceType']}/{e.resource['id']}"
        out["resource"] = e.resource
    out["response"] = e.response
    return out


async def submit(request: Request, session: Session, principal: Sender) -> JSONResponse:
    """A transaction or batch Bundle; answers transaction-response or batch-response."""
    data = _bundle(await request.body())
    if _antenatal_contact(data):
        if data.get("type") != "transaction":
            raise _invalid(
                "Bundle.type",
                N_(
                    "must be transaction: an Encounter of an EpisodeOfCare is an antenatal "
                    "contact, which is sent as a transaction"
                ),
            )
        writer = await Require("pregnancy:contact")(request)
        return await maternal_exchange.transaction(request, session, writer)
    if data.get("type") not in ("transaction", "batch"):
        raise _invalid("Bundle.type", N_("must be transaction or batch"))
    entries = [_entry(i, raw) for i, raw in enumerate(data.get("entry") or [])]
    order = _plan(entries, batch=data["type"] == "batch")
    reads = [e for e in entries if e.method == "GET"]
    planned = {e.index for e in [*order, *reads]}
    # writes are done first, in the order their references need, then the reads
    order = [*order, *reads, *(e for e in entries if e.index not in planned)]
    run = _Run(request, session, principal, entries)
    if data["type"] == "transaction":
        for e in sorted((e for e in entries if e.error is not None), key=lambda e: e.index):
            raise e.error  # type: ignore[misc]
        for e in order:
            await run.run(e)
        kind = "transaction-response"
    else:
        for e in order:
            try:
                async with session.begin_nested():
                    await run.run(e)
            except SalomatError as exc:
                e.location = None
                e.resource = None
                e.response = {"status": _status(exc.status), "outcome": _outcome(exc)}
        # refusals are audited even though the batch itself succeeds
        await audit.write_after_rollback(session)
        kind = "batch-response"
    base = base_url(request)
    body = {"resourceType": "Bundle", "type": kind, "entry": [_entry_out(e, base) for e in entries]}
    # checked against R4B, sent as built: the resources as stored, instants as written
    return fhir_response(checked_response(body))
