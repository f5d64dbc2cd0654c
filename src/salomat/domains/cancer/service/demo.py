"""The demo cancer registry (the ``cancer`` section of a pack's demo.yaml).

Everything goes through the use cases a family doctor, the registry's registrar, an
oncologist and the registry's death registration use (``notify``, ``update_tumour``,
``add_follow_up``, ``registry.register_death``), so the IARC checks, the multiple-primary
rules (IARC/IACR 2004), the ENCR date of incidence and the pack's follow-up schedule
decide what the demo shows, as they would in a clinic. The loader acts as each role,
named ``cli:demo-load`` in the audit trail.

The section's ``patients`` are registered first (attached to the demo polyclinic, so its
family doctor sees them); then its ``steps`` run in order. Days are counted from the day
of loading (-250: 250 days before it). A step is one of:

- ``notify``: a report of a cancer by ``as`` (doctor: the polyclinic's family doctor;
  registrar: the cancer registry, entering a pathology or discharge report; oncologist:
  the centre's), with the codes, ``diagnosed`` (days) and ``date_kind``, optionally a
  ``stage``, ``treatments`` (``started`` in days) and a ``note``;
- ``follow``: the centre (``centre``) follows the patient's tumour of ``site`` (the first
  characters of its topography) up, set by the registrar;
- ``follow_up``: the centre's oncologist saw the patient on ``contact`` (days) with
  ``status`` (no_evidence, with_disease, unknown);
- ``death``: her death on ``died`` (days) with the certificate's underlying ``cause``
  (ICD-10), registered by the registry: a cancer named there reaches the cancer registry
  as a death certificate notification (a DCO case when nothing else is known).

The section is loaded whole or not at all: a database that already has a cancer
notification is left alone (a ``--force`` load adds nothing twice).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, Conflict, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.domains.cancer.models import CancerNotification
from salomat.domains.cancer.schemas import (
    FollowUpIn,
    NotificationIn,
    StageIn,
    TreatmentIn,
    TumourPatch,
)
from salomat.domains.cancer.service.notifications import REGISTRAR_ROLE, notify
from salomat.domains.cancer.service.tumours import add_follow_up, person_tumours, update_tumour
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import DeathIn, PersonIn

__all__ = ["load_demo_cancer"]

LOADER = "cli:demo-load"
SECTION = "cancer"
NOTIFY_KEYS = frozenset(
    {
        "notify", "as", "source", "topography", "morphology", "grade", "laterality", "basis",
        "diagnosed", "date_kind", "stage", "treatments", "note",
    }
)  # fmt: skip


def _bad(key: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"{SECTION}.{key}", message, params)])


def _named(key: str, e: SalomatError) -> SalomatError:
    """The service's refusal with each field named inside the demo file's step."""
    if isinstance(e, Invalid) and e.errors:
        return Invalid.fields(
            [FieldError(f"{SECTION}.{key}.{fe.field}", fe.msgid, fe.params) for fe in e.errors]
        )
    return type(e)(
        e.msgid, params=e.params, errors=[FieldError(f"{SECTION}.{key}", e.msgid, e.params)]
    )


def _principal(role: str, facility: tuple[int, str] | None = None) -> Principal:
    return Principal(
        user_id=0,
        username=LOADER,
        role=role,
        session_id="cli",
        facility_id=facility[0] if facility else None,
        facility_code=facility[1] if facility else None,
    )


async def _facility(session: AsyncSession, code: str, key: str) -> tuple[int, str]:
    fid = await registry.facility_id_by_code(session, code)
    if fid is None:
        raise _bad(key, N_("no facility has code %(code)s"), {"code": code})
    return fid, code


async def _patients(
    session: AsyncSession,
    spec: list[dict[str, Any]],
    person_ids: dict[str, int],
    polyclinic: str,
) -> dict[str, int]:
    """Register the section's patients (or find them), attached to the polyclinic."""
    clerk = _principal("registrar")
    ids = dict(person_ids)
    for k, p in enumerate(spec):
        nid = str(p["national_id"])
        found = ids.get(nid) or await registry.person_id_by_national_id(session, nid)
        if found is not None:
            ids[nid] = found
            continue
        person = PersonIn(
            **{"attached_facility_code": polyclinic, **p, "national_id": nid},
            duplicate_reason="demo data: distinct fictitious people",
        )
        try:
            created = await registry.register_person(session, clerk, person)
        except (Conflict, Invalid) as e:
            raise _named(f"patients.{k}", e) from None
        ids[nid] = created.id
    return ids


async def _tumour_id(
    session: AsyncSession, registrar: Principal, person_id: int, site: str, key: str
) -> int:
    tumours = await person_tumours(session, registrar, person_id)
    match = [t for t in tumours if t.topography.startswith(site)]
    if not match:
        raise _bad(key, N_("the patient has no tumour of %(site)s"), {"site": site})
    return match[0].id


async def load_demo_cancer(
    session: AsyncSession,
    spec: dict[str, Any],
    person_ids: dict[str, int],
    *,
    facility_code: str,
    today: date | None = None,
) -> int:
    """Load the section; returns the notifications it made (0 when already loaded)."""
    if not spec:
        return 0
    if await session.scalar(select(CancerNotification.id).limit(1)) is not None:
        return 0
    today = today or date.today()
    polyclinic = await _facility(session, facility_code, "polyclinic")
    centre = await _facility(session, str(spec["centre"]), "centre")
    principals = {
        "doctor": _principal("family_doctor", polyclinic),
        "registrar": _principal(REGISTRAR_ROLE),
        "oncologist": _principal("oncologist", centre),
    }
    registrar = principals["registrar"]
    ids = await _patients(session, spec.get("patients", []), person_ids, facility_code)
    made = 0

    def days(v: Any, key: str) -> date:
        if not isinstance(v, int):
            raise _bad(key, N_("must be a number of days"))
        return today + timedelta(days=v)

    for k, step in enumerate(spec.get("steps", [])):
        key = f"steps.{k}"
        kind = next((x for x in ("notify", "follow", "follow_up", "death") if x in step), None)
        if kind is None:
            raise _bad(key, N_("must be a notify, follow, follow_up or death step"))
        person_id = ids.get(str(step[kind]))
        if person_id is None:
            raise _bad(key, N_("no demo patient has national id %(id)s"), {"id": step[kind]})
        try:
            if kind == "notify":
                unknown = set(step) - NOTIFY_KEYS
                if unknown:
                    raise _bad(key, N_("unknown keys: %(keys)s"), {"keys": ", ".join(unknown)})
                data = NotificationIn(
                    source=step.get("source", "clinician"),
                    topography=step["topography"],
                    morphology=step["morphology"],
                    grade=step.get("grade"),
                    laterality=step.get("laterality"),
                    basis=step["basis"],
                    diagnosed_on=days(step["diagnosed"], f"{key}.diagnosed"),
                    date_kind=step.get("date_kind", "diagnosis"),
                    stage=StageIn(**step["stage"]) if step.get("stage") else None,
                    treatments=[
                        TreatmentIn(kind=t["kind"], started_on=days(t["started"], key))
                        for t in step.get("treatments", [])
                    ],
                    note=step.get("note"),
                )
                await notify(session, principals[step.get("as", "doctor")], person_id, data)
                made += 1
            elif kind == "follow":
                tid = await _tumour_id(session, registrar, person_id, step["site"], key)
                await update_tumour(
                    session,
                    registrar,
                    tid,
                    TumourPatch(followed_by_facility_code=centre[1]),
                    expected_version=None,
                )
            elif kind == "follow_up":
                tid = await _tumour_id(session, registrar, person_id, step["site"], key)
                await add_follow_up(
                    session,
                    principals["oncologist"],
                    tid,
                    FollowUpIn(
                        contact_on=days(step["contact"], f"{key}.contact"),
                        disease_status=step.get("status", "unknown"),
                        note=step.get("note"),
                    ),
                )
            else:
                clerk = _principal("registrar")
                person = await registry.get_person(session, clerk, person_id)
                await registry.register_death(
                    session,
                    clerk,
                    person_id,
                    DeathIn(deceased_on=days(step["died"], f"{key}.died"), cause=step["cause"]),
                    expected_version=person.version,
                )
                made += 1
        except SalomatError as e:
            if isinstance(e, Invalid) and any(
                fe.field.startswith(f"{SECTION}.") for fe in e.errors
            ):
                raise
            raise _named(key, e) from None
    return made
