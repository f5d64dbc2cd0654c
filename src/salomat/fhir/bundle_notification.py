"""A case notification inside a transaction or batch (``POST /fhir``, fhir/bundle.py).

A POST of a Condition carrying a notification's extension (``{EXT}notification-*``,
fhir/epidemic.notification_body) is the notification ``POST /fhir/Condition/$notify``
stores, not a record Condition: permission ``epidemic:report``, the notification
service's checks and audit, refusals naming the entry's element
(``Bundle.entry[i].resource.onsetDateTime``), ``ifNoneExist`` refused (a notification is
not created conditionally), the response's location ``Condition/epi-<n>``.

In a transaction, a POST of an Observation that the notification's Condition refers to
(``evidence.detail``, or any reference, by its fullUrl) is the notification's laboratory
result, as in ``$notify``'s Bundle: it confirms the case when its ``valueCodeableConcept``
is SNOMED CT 10828004 "Positive" (``performer.identifier`` names the laboratory), and its
location is ``Observation/epi-lab-<n>``. It is not stored as a record Observation; one
that does not confirm the case is refused (it would otherwise be dropped), and so are two
laboratory Observations for one notification or one Observation for two. The
Observation is run after its notification whatever the order of references (it refers
to the Condition, the Condition to it). A batch's entries are independent: a batch
notifies a Condition alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid
from salomat.fhir import epidemic as mapper
from salomat.fhir.common import etag, fields_as

if TYPE_CHECKING:
    from salomat.fhir.bundle_plan import _Entry
    from salomat.fhir.bundle_run import _Run

#: the permission a notification entry needs (as ``$notify``)
PERMISSION = "epidemic:report"


def _invalid(path: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(path, message, params)])


def is_notification(method: str, kind: str, resource: Any) -> bool:
    """A POST of a Condition with a notification's extension."""
    return method == "POST" and kind == "Condition" and mapper.notification_body(resource)


def bind_labs(writes: list[_Entry]) -> None:
    """Each notification's laboratory Observation (a POST entry its Condition links to)
    bound to it: the Observation then waits for its notification, not the reverse."""
    by_index = {e.index: e for e in writes}
    for e in writes:
        if not e.notification or e.error is not None:
            continue
        labs: dict[int, str] = {}
        for i, path in [*e.names.values(), *e.relative.values()]:
            other = by_index.get(i)
            if other is not None and other.method == "POST" and other.kind == "Observation":
                labs.setdefault(i, path)
        if not labs:
            continue
        (i, path), *more = labs.items()
        if more:
            e.error = _invalid(
                e.element(more[0][1]),
                N_("One Condition and at most one Observation"),
            )
            continue
        lab = by_index[i]
        if lab.lab_of is not None:
            e.error = _invalid(
                e.element(path),
                N_("Bundle.entry[%(other)s] is the laboratory result of another notification"),
                {"other": i},
            )
            continue
        lab.lab_of, e.lab = e.index, i
        e.deps.discard(i)
        lab.deps.add(e.index)


def _confirms(lab: Any) -> bool:
    value = lab.valueCodeableConcept
    return bool(
        value
        and any(c.system == mapper.SNOMED and c.code == mapper.POSITIVE for c in value.coding or [])
    )


async def notify(run: _Run, e: _Entry) -> None:
    """The notification entry stored through the notification service (as ``$notify``),
    with its laboratory Observation entry if one is bound to it."""
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.observation import Observation

    from salomat.domains.epidemic.service import notifications

    if e.request.get("ifNoneExist") is not None:
        raise _invalid(
            f"{e.at}.request.ifNoneExist",
            N_("A case notification is not created conditionally; use Condition/$notify"),
        )
    lab_entry = run.by_index[e.lab] if e.lab is not None else None
    resource = await run.resolve(e, skip=e.lab)
    cond = Condition.model_validate(resource)
    lab = None
    paths = dict(mapper.PATHS)
    if lab_entry is not None:
        lab = Observation.model_validate(lab_entry.resource)
        if not _confirms(lab):
            raise _invalid(
                f"{lab_entry.at}.resource.valueCodeableConcept",
                N_(
                    "a notification's laboratory Observation confirms the case "
                    "(%(system)s %(code)s); send another result apart"
                ),
                {"system": mapper.SNOMED, "code": mapper.POSITIVE},
            )
        paths["lab_facility"] = f"{lab_entry.at}.resource.performer"
    with fields_as(paths):
        data = mapper.notification_in(cond, lab)
        out = await notifications.create_notification(
            run.session, run.principal, data, language=i18n.current_language()
        )
    e.location = f"Condition/{mapper.CONDITION_PREFIX}{out.id}"
    e.response = {"status": "201 Created", "location": e.location, "etag": etag(1)}
    if lab_entry is not None:  # confirmed: notification_in read the Positive result
        lab_entry.location = f"Observation/{mapper.LAB_PREFIX}{out.id}"
        lab_entry.response = {
            "status": "201 Created",
            "location": lab_entry.location,
            "etag": etag(1),
        }


def lab_done(e: _Entry) -> None:
    """A laboratory Observation's turn: its notification (run before it) answered for it."""
    if e.response is None:
        raise _invalid(
            f"{e.at}.resource",
            N_("refers to Bundle.entry[%(other)s], which failed"),
            {"other": e.lab_of},
        )
