"""A transaction's or batch's entries run (fhir/bundle.py): each entry through the
service that owns it (the record, the registry's Patient create, screening), its links
rewritten to what the entries before it stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from salomat.core import audit
from salomat.core.errors import N_, FieldError, NotFound, PreconditionFailed, SalomatError
from salomat.core.pagination import check_page
from salomat.core.params import parse_version
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery, StoredResource
from salomat.domains.registry import service as registry
from salomat.fhir import bundle_notification, patient_api
from salomat.fhir import patient as patient_mapper
from salomat.fhir.bundle_links import REFERENCE, rewrite_references
from salomat.fhir.bundle_plan import (
    _CONDITIONAL,
    _condition,
    _Entry,
    _invalid,
    _named,
    _patient_model,
)
from salomat.fhir.common import base_url, etag, history_bundle, instant
from salomat.fhir.record import RESOURCE_TYPES, no_update_create, resource_url, to_fhir
from salomat.fhir.record_search import search_bundle

# ---- running the entries ----------------------------------------------------------------


class _Run:
    def __init__(
        self, request: Request, session: Any, principal: Principal, entries: list[_Entry]
    ) -> None:
        self.request = request
        self.session = session
        self.principal = principal
        self.entries = entries
        self.by_index = {e.index: e for e in entries}
        self.conditional: dict[str, str] = {}

    async def permit(self, permission: str) -> None:
        await Require(permission)(self.request)

    async def run(self, e: _Entry) -> None:
        if e.error is not None:
            raise e.error
        try:
            if e.method == "GET":
                if e.target is not None:  # a search is permitted as its route permits it
                    await self.permit("record:read")
                await self.get(e)
            elif e.kind == "Patient":
                await self.patient(e)
            elif e.notification:
                await self.permit(bundle_notification.PERMISSION)
                await bundle_notification.notify(self, e)
            elif e.lab_of is not None:
                bundle_notification.lab_done(e)
            elif _screening_result(e):
                await self.permit("screening:record")
                await self.screening_result(e)
            else:
                await self.permit("record:write")
                await self.write(e)
        except SalomatError as exc:
            raise _named(exc, e) from None

    # -- references

    def location_of(self, e: _Entry, i: int, path: str) -> str:
        """What a link naming entry ``i`` becomes: a PUT's url, a POST's stored
        ``<Type>/<id>`` (written before ``e``: the plan's order)."""
        target = self.by_index[i]
        if target.method == "PUT":
            return f"{target.kind}/{target.target}"
        if target.location is None:
            raise _invalid(
                e.element(path),
                N_("refers to Bundle.entry[%(other)s], which failed"),
                {"other": target.index},
            )
        return target.location

    async def resolve(self, e: _Entry, skip: int | None = None) -> dict[str, Any]:
        """``e``'s resource with its links rewritten; those naming entry ``skip`` (a
        notification's laboratory Observation, run after it) left as sent."""
        resolved = {v: self.location_of(e, i, p) for v, (i, p) in e.names.items() if i != skip}
        relative = {v: self.location_of(e, i, p) for v, (i, p) in e.relative.items() if i != skip}
        for kind, path, value in e.links:
            if kind != REFERENCE or value in resolved or value in relative:
                continue
            hit = _CONDITIONAL.fullmatch(value)
            if hit is not None:
                resolved[value] = await self.conditional_reference(
                    hit.group(1), hit.group(2), e.element(path), value
                )
        return rewrite_references(e.resource, resolved, relative)  # type: ignore[no-any-return]

    async def conditional_reference(self, kind: str, query: str, path: str, value: str) -> str:
        if value in self.conditional:
            return self.conditional[value]
        pairs = _condition(query)
        if kind not in (*RESOURCE_TYPES, "Patient") or [k for k, _ in pairs] != ["identifier"]:
            raise _invalid(
                path,
                N_("a conditional reference here is <Type>?identifier=<system>|<value>"),
            )
        token = pairs[0][1]
        if kind == "Patient":
            person_id = await self.person_by_identifier(token, path)
            if person_id is None:
                raise _invalid(
                    path, N_("no registered person has the identifier %(value)s"), {"value": token}
                )
            found = f"Patient/{person_id}"
        else:
            system, sep, code = token.rpartition("|")
            page = await record.search_resources(
                self.session,
                self.principal,
                kind,
                RecordQuery(identifiers=[(system if sep else None, code)], limit=2),
            )
            if page.total != 1:
                raise _invalid(
                    path,
                    N_("%(ref)s matches %(n)s resources; exactly one is needed"),
                    {"ref": value, "n": page.total},
                )
            found = resource_url(page.items[0])
        self.conditional[value] = found
        return found

    async def person_by_identifier(self, token: str, path: str) -> int | None:
        """The registered person with this national id (``<system>|<value>``), whichever
        facility holds them: a hospital sends records of patients not attached to it."""
        system = patient_mapper.national_system()
        sent_system, sep, value = token.rpartition("|")
        value = value.strip()
        if not sep or sent_system != system or not value:
            raise _invalid(
                path, N_("must be identifier=%(system)s|<national id>"), {"system": system}
            )
        found = (await registry.person_ids_by_national_ids(self.session, [value])).get(value)
        if found is not None:
            await audit.record(
                self.session,
                self.principal,
                action="search",
                resource_type="Patient",
                resource_id=str(found),
                patient_id=found,
                purpose="shared record: Bundle matched by national id",
            )
        return found

    # -- the interactions

    async def patient(self, e: _Entry) -> None:
        condition = e.request.get("ifNoneExist")
        path = f"{e.at}.request.ifNoneExist"
        if not condition:
            raise _invalid(
                path,
                N_(
                    "a Patient entry is matched against the registry: give "
                    "identifier=<national id system>|<value>"
                ),
            )
        pairs = _condition(str(condition).lstrip("?"))
        if [k for k, _ in pairs] != ["identifier"]:
            raise _invalid(path, N_("only identifier=<national id system>|<value>"))
        # matched for the records that refer to it, or registered by the registry's staff
        role = self.principal.role
        if not (allowed(role, "record:write") or allowed(role, "person:create")):
            await self.permit("record:write")
        person_id = await self.person_by_identifier(pairs[0][1], path)
        if person_id is not None:
            e.location = f"Patient/{person_id}"
            e.response = {"status": "200 OK", "location": e.location}
            return
        # nobody has the national id: registered as the Patient create registers
        await self.permit("person:create")
        person = await patient_api.register_patient(self.session, self.principal, _patient_model(e))
        e.location = f"Patient/{person.id}"
        e.response = {
            "status": "201 Created",
            "location": f"{e.location}/_history/{person.version}",
            "etag": etag(person.version),
            "lastModified": instant(person.updated_at),
        }

    async def write(self, e: _Entry) -> None:
        resource = await self.resolve(e)
        if e.method == "POST":
            stored, created = await record.create_resource(
                self.session,
                self.principal,
                resource,
                if_none_exist=_if_none_exist(e),
            )
        else:
            assert e.target is not None
            try:
                stored = await record.update_resource(
                    self.session,
                    self.principal,
                    e.kind,
                    e.target,
                    resource,
                    if_match=_if_match(e, resource),
                )
            except NotFound as missing:
                # no update as create (updateCreate false): 405, as a plain PUT answers
                raise no_update_create(e.kind, e.target) from missing
            created = False
        e.location = resource_url(stored)
        e.response = {
            "status": "201 Created" if created else "200 OK",
            "location": f"{e.location}/_history/{stored.version}",
            "etag": etag(stored.version),
            "lastModified": _last_modified(stored),
        }

    async def screening_result(self, e: _Entry) -> None:
        """A screening result (the screening-observation profile): the screening create,
        with its checks (fhir/screening_api.submit_observation), not the record's."""
        from fhir.resources.R4B.observation import Observation

        from salomat.fhir import screening_api

        if e.request.get("ifNoneExist") is not None:
            raise _invalid(
                f"{e.at}.request.ifNoneExist",
                N_("not taken for a screening result (send it once, or an Idempotency-Key)"),
            )
        resource = await self.resolve(e)
        res, warnings = await screening_api.submit_observation(
            self.session, self.principal, Observation.model_validate(resource)
        )
        e.location = f"Observation/{res['id']}"
        e.response = {
            "status": "201 Created",
            "location": f"{e.location}/_history/{res['meta']['versionId']}",
            "etag": etag(int(res["meta"]["versionId"])),
        }
        if warnings:
            e.response["outcome"] = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "warning",
                        "code": "informational",
                        "diagnostics": w.message,
                        "expression": [e.element(w.field)],
                    }
                    for w in warnings
                ],
            }

    async def get(self, e: _Entry) -> None:
        base = base_url(self.request)
        assert e.response is None
        if e.kind == "Patient":
            e.resource = await patient_api.batch_get(
                self.request, self.session, self.principal, e.target, e.query
            )
            e.response = {"status": "200 OK"}
            if e.target is not None:
                e.response |= {
                    "etag": etag(int(e.resource["meta"]["versionId"])),
                    "lastModified": e.resource["meta"]["lastUpdated"],
                }
            return
        if e.target is None:
            e.response = {"status": "200 OK"}
            e.resource = await self.search(e)
            return
        if e.rest == ["_history"]:
            # the first page, read as the history route reads it (in SQL, not every body)
            page = check_page(None, None)
            found = await record.resource_history_page(
                self.session, self.principal, e.kind, e.target, offset=0, limit=page.limit
            )
            e.resource = history_bundle(
                base,
                e.kind,
                e.target,  # type: ignore[arg-type]
                [("create" if v.version == 1 else "update", to_fhir(v)) for v in found.items],
                found.total,
                page,
            )
            e.response = {"status": "200 OK"}
            return
        version = None
        if e.rest:
            version = parse_version(e.rest[1])
            if version is None:
                raise NotFound(
                    N_("%(type)s %(id)s has no version %(version)s."),
                    params={"type": e.kind, "id": e.target, "version": e.rest[1]},
                )
        stored = await record.read_resource(
            self.session, self.principal, e.kind, e.target, version=version
        )
        e.resource = to_fhir(stored)
        e.response = _read_response(stored)

    async def search(self, e: _Entry) -> dict[str, Any]:
        """The search route's own answer (its parameters, paging and merging), for the
        entry's query."""
        items = parse_qsl(e.query, keep_blank_values=True)
        return await search_bundle(self.request, self.session, self.principal, e.kind, items)


def _screening_result(e: _Entry) -> bool:
    """A POST of an Observation declaring the screening profile (or category): a screening
    result, which the screening domain stores (fhir/screening_api.py)."""
    from salomat.fhir.screening import is_screening

    return e.method == "POST" and e.kind == "Observation" and is_screening(e.resource)


def _read_response(stored: StoredResource) -> dict[str, Any]:
    return {
        "status": "200 OK",
        "etag": etag(stored.version),
        "lastModified": _last_modified(stored),
    }


def _last_modified(stored: StoredResource) -> str:
    """The resource's meta.lastUpdated, written as it is there."""
    meta = stored.resource.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("lastUpdated"), str):
        return meta["lastUpdated"]  # type: ignore[no-any-return]
    return instant(stored.last_updated)


def _if_none_exist(e: _Entry) -> list[tuple[str, str]] | None:
    condition = e.request.get("ifNoneExist")
    if condition is None:
        return None
    pairs = _condition(str(condition).lstrip("?"))
    names = {k for k, _ in pairs}
    if not pairs or names - {"identifier", "_id"}:
        raise _invalid(
            f"{e.at}.request.ifNoneExist",
            N_("give identifier=<system>|<value> or _id=<id>"),
        )
    return pairs


def _if_match(e: _Entry, resource: dict[str, Any]) -> int:
    """The version a PUT entry expects, as a plain PUT takes it: ``request.ifMatch``, else
    the resource's meta.versionId; neither is refused (412) rather than overwriting
    whatever version is current."""
    value = e.request.get("ifMatch")
    if value is None:
        meta = resource.get("meta")
        value = meta.get("versionId") if isinstance(meta, dict) else None
        if value is None:
            raise PreconditionFailed(
                N_(
                    'Send request.ifMatch with the ETag you read (W/"<version>"), '
                    "or meta.versionId in the resource."
                ),
                errors=[FieldError(f"{e.at}.request.ifMatch", N_("is required"))],
            )
    version = parse_version(str(value).strip().removeprefix("W/").strip('"'))
    if version is None:
        raise _invalid(f"{e.at}.request.ifMatch", N_('must be a version such as W/"3"'))
    return version
