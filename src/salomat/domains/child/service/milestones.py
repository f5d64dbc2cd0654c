"""The developmental milestones a well-child visit records: the country pack's list.

``child.yaml`` lists each milestone with its code, the age in months by which
most children reach it and its name in the pack's languages (and English). A
visit stores the codes it saw achieved (sorted); the service accepts only codes
of the list, and pages show the names in the page's language. A stored code the
list no longer has (older data) is shown as it is, marked as a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.country import pack

__all__ = ["Milestone", "MilestoneLabel", "milestone_labels", "milestones"]


@dataclass(frozen=True)
class Milestone:
    code: str
    #: the age in whole months by which most children have reached it
    by_months: int
    #: language -> name; "en" always present
    names: dict[str, str]

    @property
    def name(self) -> str:
        """The name in the current language (English when the pack has none for it)."""
        return self.names.get(i18n.current_language()) or self.names["en"]

    @property
    def label(self) -> str:
        """The name with the usual age, in the current language: "Walks alone (by 18 months)"."""
        return i18n.gettext("%(name)s (by %(n)s months)") % {"name": self.name, "n": self.by_months}


@lru_cache
def _milestones(country: str) -> tuple[Milestone, ...]:
    items = pack.load(country, "child").get("milestones", {}).get("items", [])
    listed = [
        Milestone(code=str(m["code"]), by_months=int(m["by_months"]), names=dict(m["names"]))
        for m in items
    ]
    # by age; the pack's order among milestones of the same age
    return tuple(sorted(listed, key=lambda m: m.by_months))


def milestones(country: str | None = None) -> list[Milestone]:
    """The pack's milestones, youngest age first."""
    return list(_milestones((country or get_settings().country).upper()))


@dataclass(frozen=True)
class MilestoneLabel:
    """A stored code as a page shows it: its name, or the code itself marked as unknown."""

    code: str
    milestone: Milestone | None

    @property
    def known(self) -> bool:
        return self.milestone is not None

    def __str__(self) -> str:
        return self.milestone.name if self.milestone is not None else self.code


def milestone_labels(codes: list[str], country: str | None = None) -> list[MilestoneLabel]:
    """The stored codes of a visit in the pack's order (unknown codes last, as stored)."""
    listed = milestones(country)
    by_code = {m.code: m for m in listed}
    known = [MilestoneLabel(m.code, m) for m in listed if m.code in codes]
    return known + [MilestoneLabel(c, None) for c in codes if c not in by_code]
