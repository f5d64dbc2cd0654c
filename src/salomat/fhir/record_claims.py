"""What the shared health record claims of the types other domains also serve
(Encounter, Condition, Observation, DocumentReference): fhir/common.claimed_route lets a
route match only the requests its claim accepts, the rest going on to the other domain's
route of the same path (fhir/record_api.py lists which route claims what).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import Scope

from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import cancer_api
from salomat.fhir import record as mapper
from salomat.fhir import sick_leave as sick_leave_mapper
from salomat.fhir.common import PAGING, query_of
from salomat.fhir.record_chain import is_chain
from salomat.fhir.record_search import SEARCH_PARAMS, THEIRS, merge_kind

# ---- searches and reads ---------------------------------------------------------------------


def _ours(value: str, kind: str | None = None) -> bool:
    """Any of a comma list names a record id (``shr-<n>`` or ``<kind>/shr-<n>``)."""
    return any(
        v.removeprefix(f"{kind}/" if kind else "").startswith(mapper.ID_PREFIX)
        for v in value.split(",")
    )


def _is_merged(resource_type: str, items: list[tuple[str, str]]) -> bool:
    return merge_kind(resource_type, items) is not None


def claims_search(resource_type: str) -> Callable[[Scope], bool]:
    """A search of ``resource_type`` is the record's when it is merged (the other route's
    and ours), names one of the record's own parameters, a chain (``subject.identifier``,
    ``patient:Patient.identifier``, …: the record's, merged by the persons it names when
    on ``patient``; one the record does not take is refused there, naming it), or
    ``shr-`` ids."""
    own = frozenset(SEARCH_PARAMS[resource_type]) - {"patient", "code", "clinical-status"}
    own -= THEIRS[resource_type] | {"_id", "encounter"} | PAGING

    def claim(scope: Scope) -> bool:
        items = query_of(scope)
        if _is_merged(resource_type, items):
            return True
        for k, v in items:
            if k in own or is_chain(k):
                return True
            if k == "_id" and _ours(v):
                return True
            if k == "encounter" and _ours(v, "Encounter"):
                return True
        return False

    return claim


def _cancer_registry_category(value: str) -> bool:
    registry = f"{cancer_mapper.REGISTRY_CATEGORY}|{cancer_mapper.REGISTRY_CODE}"
    return any(v in (cancer_mapper.REGISTRY_CODE, registry) for v in value.split(","))


def claims_conditions(scope: Scope) -> bool:
    """Condition searches come here before the cancer registry's route (which takes every
    search naming ``identifier``): the registry keeps its category and ``cancer-`` ids; an
    identifier search with a parameter the registry does not know, or merged, is ours."""
    items = query_of(scope)
    for k, v in items:
        if k == "category" and _cancer_registry_category(v):
            return False
        if k == "_id" and v.startswith(cancer_mapper.PREFIX):
            return False
    if any(k == "identifier" for k, _ in items):
        names = {k for k, _ in items} - PAGING
        registry = frozenset(cancer_api.SEARCH_PARAMS["Condition"])
        return merge_kind("Condition", items) is not None or not names <= registry
    return claims_search("Condition")(scope)


def claims_id(scope: Scope) -> bool:
    return str(scope.get("path_params", {}).get("resource_id", "")).startswith(mapper.ID_PREFIX)


# ---- the creates another domain also takes: decided by what the resource says ---------------


def cancer_notification(body: Any) -> bool:
    """A Condition with the cancer registry's marks (fhir/cancer.py)."""
    if not isinstance(body, dict):
        return False
    exts = body.get("extension")
    if isinstance(exts, list) and any(
        isinstance(e, dict) and e.get("url") == cancer_mapper.MORPHOLOGY_EXT for e in exts
    ):
        return True
    for element in ("bodySite", "category"):
        for concept in body.get(element) or []:
            for c in (concept.get("coding") or []) if isinstance(concept, dict) else []:
                if isinstance(c, dict) and (
                    c.get("system") == cancer_mapper.ICDO3
                    or c.get("code") == cancer_mapper.REGISTRY_CODE
                ):
                    return True
    return False


def sick_leave_document(body: Any) -> bool:
    """A DocumentReference whose type is a sick-leave kind or reason (fhir/sick_leave.py)."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), dict):
        return False
    systems = (sick_leave_mapper.KIND_SYSTEM, sick_leave_mapper.REASON_SYSTEM)
    return any(
        isinstance(c, dict) and c.get("system") in systems for c in body["type"].get("coding") or []
    )
