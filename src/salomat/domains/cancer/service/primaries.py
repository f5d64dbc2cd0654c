"""Multiple primary tumours: the IARC/IACR 2004 rules for reporting incidence (IARC
Internal Report 2004/02, "International rules for multiple primary cancers").

1. Time elapsed never decides. 2. Extension, recurrence or metastasis is not a new
primary (behaviour /6 never reaches here: ``icdo3.morphology`` refuses it). 3. One
tumour per organ (``icdo3.organ``: the 3-character site, or a Table 1 group).
4.1 Systemic cancers, Kaposi sarcoma (group 15) and the haematopoietic groups 8-14, are
counted once per person whatever the organ; group 14 (unspecified) is the same as any
of 8-14. 4.2 Different histology groups in one organ are separate primaries, except
that an unspecified carcinoma (group 5) or unspecified neoplasm (group 17) is never a
new primary beside another tumour of the organ (as the domain notes state it).

Where the rules cannot choose, the registrar does: a tumour of unknown primary site
(C80.9) in a person who already has one (likely its metastasis, or the primary found
at last), and a tumour that matches more than one existing tumour. Such a decision has
``needs_registrar`` set; its ``new_primary`` is then the likelier answer, not a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from salomat.core.errors import N_
from salomat.domains.cancer.service import icdo3

__all__ = ["Decision", "TumourKey", "decide"]

UNKNOWN_PRIMARY = "C80.9"


@dataclass(frozen=True)
class TumourKey:
    id: int | None
    topography: str
    histology: int


@dataclass(frozen=True)
class Decision:
    new_primary: bool
    tumour_id: int | None
    reason: str
    needs_registrar: bool
    message: str
    params: dict[str, Any] = field(default_factory=dict)


def _one_or_registrar(matches: list[TumourKey], reason: str, message: str) -> Decision:
    if len(matches) == 1:
        m = matches[0]
        return Decision(
            False, m.id, reason, False, message, {"id": m.id, "organ": icdo3.organ(m.topography)}
        )
    ids = ", ".join(str(m.id) for m in matches)
    return Decision(
        False,
        None,
        "several_candidates",
        True,
        N_("the tumour matches several tumours of the patient (%(ids)s): the registrar decides"),
        {"ids": ids},
    )  # fmt: skip


def decide(existing: Sequence[TumourKey], new: TumourKey) -> Decision:
    """Whether ``new`` is a new primary or belongs to one of the person's tumours."""
    if not existing:
        return Decision(True, None, "first_tumour", False, N_("the patient's first tumour"), {})
    group = icdo3.histology_group(new.histology)
    organ = icdo3.organ(new.topography)
    groups = {t: icdo3.histology_group(t.histology) for t in existing}

    if group in icdo3.SYSTEMIC_GROUPS:
        matches = [t for t in existing if icdo3.same_systemic(group, groups[t])]
        if matches:
            return _one_or_registrar(
                matches,
                "systemic_once",
                N_("a systemic cancer is counted once per patient: part of tumour %(id)s"),
            )

    if new.topography == UNKNOWN_PRIMARY:
        candidate = existing[0].id if len(existing) == 1 else None
        return Decision(
            False,
            candidate,
            "unknown_primary_site",
            True,
            N_("a tumour of unknown primary site beside a registered one: the registrar decides"),
            {},
        )

    same_organ = [t for t in existing if icdo3.organ(t.topography) == organ]
    if group not in icdo3.SYSTEMIC_GROUPS:
        # an earlier tumour of unknown primary site may be this one, now found
        unknown = [t for t in existing if t.topography == UNKNOWN_PRIMARY]
        unknown = [t for t in unknown if groups[t] not in icdo3.SYSTEMIC_GROUPS]
        if unknown and not same_organ:
            return Decision(
                False,
                unknown[0].id if len(unknown) == 1 else None,
                "unknown_primary_site",
                True,
                N_("this may be the primary of a tumour of unknown site: the registrar decides"),
                {},
            )

    same_group = [t for t in same_organ if groups[t] == group]
    if same_group:
        return _one_or_registrar(
            same_group,
            "same_organ_same_group",
            N_("the same organ (%(organ)s) and histology group: part of tumour %(id)s"),
        )
    unspecified = [
        t
        for t in same_organ
        if group in icdo3.UNSPECIFIED_GROUPS or groups[t] in icdo3.UNSPECIFIED_GROUPS
    ]
    if unspecified:
        return _one_or_registrar(
            unspecified,
            "unspecified_histology",
            N_("an unspecified histology in the same organ (%(organ)s): part of tumour %(id)s"),
        )
    if same_organ:
        return Decision(
            True,
            None,
            "different_histology",
            False,
            N_("a different histology group in the same organ (%(organ)s): a new primary"),
            {"organ": organ},
        )
    return Decision(
        True, None, "different_organ", False, N_("a different organ: a new primary"), {}
    )
