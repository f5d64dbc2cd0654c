"""Diagnoses that stand on a pregnancy until a clinician resolves them.

The rules (``rules``) read the latest contact; a diagnosis made at one contact
must not fall away when a later contact lacks the test or measures normal
(../shared/domain/maternal.md: "A diagnosis made at one contact ... stays on the
pregnancy until a clinician resolves it with a reason; ... the risk level and
required level of care never fall silently. The rules run over the pregnancy's
history, not only its latest contact.").

So the per-contact rules are replayed over the history, contact by contact
(``findings_by_contact``); what each contact gave is kept as a ``Diagnosis``
row, one active row per family, whose code only escalates while it stands.
The standing rows join the latest contact's advice (``with_standing``), and the
risk level and level of care are derived from both. A resolved diagnosis is
raised again only by a contact recorded after its resolution.

Families, mildest first. The DT.17, DT.23 and DT.25 families are diagnoses
(FHIR Condition); the DT.01 and DT.06 findings (danger signs, fever, ...) also
stand, so a woman referred for one keeps her risk level until a clinician has
seen to it, but they are observations, not Conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from salomat.domains.maternal.service import rules

__all__ = [
    "CONDITION_FAMILIES",
    "FAMILIES",
    "FAMILY_OF",
    "Finding",
    "findings_by_contact",
    "plan",
    "severity",
    "with_standing",
    "without_resolved",
]

FAMILIES: dict[str, tuple[str, ...]] = {
    # DT.17
    "hypertension": ("hypertension", "severe_hypertension"),
    "pre_eclampsia": ("pre_eclampsia", "severe_pre_eclampsia"),
    # DT.23
    "gestational_diabetes": ("gestational_diabetes",),
    "diabetes_in_pregnancy": ("diabetes_in_pregnancy",),
    # DT.25 with WHO 2011 severity
    "anaemia": ("anaemia", "moderate_anaemia", "severe_anaemia"),
    # DT.01 and DT.06 findings
    "danger_signs": ("danger_signs",),
    "fever": ("fever",),
    "abnormal_pulse": ("abnormal_pulse",),
    "low_oxygen_saturation": ("low_oxygen_saturation",),
    "no_fetal_heartbeat": ("no_fetal_heartbeat",),
    "abnormal_fetal_heart_rate": ("abnormal_fetal_heart_rate",),
}
FAMILY_OF: dict[str, str] = {code: fam for fam, codes in FAMILIES.items() for code in codes}
#: the families that are diagnoses (FHIR Condition), not findings
CONDITION_FAMILIES = frozenset(
    {"hypertension", "pre_eclampsia", "gestational_diabetes", "diabetes_in_pregnancy", "anaemia"}
)
#: the per-contact rules whose results stand
_RULES = (
    rules.dt01_danger_signs,
    rules.dt06_refer,
    rules.dt17_hypertension,
    rules.dt23_diabetes,
    rules.dt25_anaemia,
)


def severity(code: str) -> int:
    """The code's rank in its family (0: mildest)."""
    return FAMILIES[FAMILY_OF[code]].index(code)


@dataclass(frozen=True)
class Finding:
    """What the rules gave at one contact of the history (``index`` into the contacts)."""

    index: int
    family: str
    advice: rules.Advice


def findings_by_contact(facts: rules.Facts) -> list[Finding]:
    """The standing kind of advice each contact gave, replayed over the history.

    Each contact is judged as the rules judged it when it was recorded: the facts
    with the contacts up to it, on its day, at its gestational age. Other systems'
    readings of a contact's day are among its readings. A day of only such readings
    (``external``) gives advice while it is the latest; what it found is carried to
    the next contact, which had it before it (a diagnosis names a contact), so a
    hospital's severe anaemia does not fall away at a contact that lacks the test
    (docs/maternal.md, "Readings from other systems").
    """
    out: list[Finding] = []
    carried: list[tuple[str, rules.Advice]] = []
    for i, c in enumerate(facts.contacts):
        then = replace(facts, contacts=facts.contacts[: i + 1], today=c.on, ga_days=c.ga_days)
        found = [
            (FAMILY_OF[a.code], a) for rule in _RULES for a in rule(then) if a.code in FAMILY_OF
        ]
        if c.external:
            carried += found
            continue
        out += [Finding(i, family, a) for family, a in carried + found]
        carried = []
    return out


@dataclass
class Change:
    """A diagnosis to raise (``existing`` None) or to escalate to a more severe code."""

    family: str
    advice: rules.Advice
    contact_index: int
    first_index: int
    existing: Any = None


def plan(
    findings: Iterable[Finding],
    recorded_at: Sequence[datetime],
    active: dict[str, Any],
    resolved_at: dict[str, datetime],
) -> list[Change]:
    """What the stored diagnoses lack: new families, and escalations of standing ones.

    ``active`` maps a family to its standing row (``code`` attribute);
    ``resolved_at`` a family to its latest resolution; ``recorded_at`` each
    contact's recording time. A finding from a contact recorded before the
    family's latest resolution was known when it was resolved: it is not raised
    again. Pure, so that the nightly job can ask "would anything change?".
    """
    changes: dict[str, Change] = {}
    for f in findings:
        resolved = resolved_at.get(f.family)
        if resolved is not None and recorded_at[f.index] <= resolved:
            # known when a clinician resolved the family: neither raised nor escalated again
            continue
        pending = changes.get(f.family)
        current_code = (
            pending.advice.code
            if pending is not None
            else (active[f.family].code if f.family in active else None)
        )
        if current_code is None:
            changes[f.family] = Change(f.family, f.advice, f.index, f.index)
        elif severity(f.advice.code) > severity(current_code):
            if pending is not None:
                pending.advice, pending.contact_index = f.advice, f.index
            else:
                changes[f.family] = Change(
                    f.family, f.advice, f.index, f.index, existing=active[f.family]
                )
    return list(changes.values())


def without_resolved(
    advice: list[rules.Advice],
    latest_recorded_at: datetime | None,
    resolved_at: dict[str, datetime],
) -> list[rules.Advice]:
    """The latest contact's advice less the families a clinician resolved after that contact
    was recorded: resolving a diagnosis the latest contact gave takes it off the record
    (and off the risk level) until a later contact gives it again."""
    if latest_recorded_at is None:
        return advice
    out = []
    for a in advice:
        fam = FAMILY_OF.get(a.code)
        resolved = resolved_at.get(fam) if fam else None
        if resolved is not None and latest_recorded_at <= resolved:
            continue
        out.append(a)
    return out


def standing_advice(d: Any) -> rules.Advice:
    """The advice a standing diagnosis row gives (with where it came from)."""
    return rules.Advice(
        d.rule_id,
        d.code,
        dict(d.values or {}),
        d.action,
        d.urgency,
        d.source,
        {
            "standing": True,
            "diagnosis_id": d.id,
            "since": d.first_on.isoformat(),
            "since_contact_id": d.first_contact_id,
        },
    )


def with_standing(advice: list[rules.Advice], standing: Iterable[Any]) -> list[rules.Advice]:
    """The latest contact's advice joined with the standing diagnoses, one item per family.

    Where both name a family, the more severe stays (the latest contact's when equal,
    marked with the diagnosis it belongs to); a standing diagnosis the latest contact
    did not give is added with where it came from.
    """
    by_family = {d.family: d for d in standing}
    out: list[rules.Advice] = []
    seen: set[str] = set()
    for a in advice:
        fam = FAMILY_OF.get(a.code)
        d = by_family.get(fam) if fam else None
        if d is None:
            out.append(a)
            continue
        seen.add(d.family)
        if severity(d.code) > severity(a.code):
            out.append(standing_advice(d))
        else:
            details = {
                **a.details,
                "diagnosis_id": d.id,
                "since": d.first_on.isoformat(),
                "since_contact_id": d.first_contact_id,
            }
            out.append(replace(a, details=details))
    out += [standing_advice(d) for fam, d in by_family.items() if fam not in seen]
    return out
