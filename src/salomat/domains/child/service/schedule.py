"""The well-child visit schedule of the country pack, and a child's visits against it.

``child.yaml`` lists each visit by the age it is due (``age_days``), the days
either side in which a visit counts and its name in the pack's languages and
English (``names``); ``source_names`` words where the schedule comes from for the
page, in each language (``source`` is the maintainers' note). Pages show the
names in the page's language; the REST API carries every name and ``label``,
the English one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.country import pack
from salomat.domains.child.schemas import ScheduledVisit, VisitOut

__all__ = [
    "ScheduleItem",
    "WellChildSchedule",
    "in_language",
    "visit_schedule",
    "well_child_schedule",
]


def in_language(names: dict[str, str]) -> str:
    """The name in the current language; English when the pack has none for it."""
    return names.get(i18n.current_language()) or names["en"]


@dataclass(frozen=True)
class ScheduleItem:
    age_days: int
    before: int
    after: int
    #: language -> name; "en" always present
    names: dict[str, str]

    @property
    def name(self) -> str:
        return in_language(self.names)


@dataclass(frozen=True)
class WellChildSchedule:
    visits: tuple[ScheduleItem, ...]
    #: the maintainers' note (English)
    source: str
    #: language -> where the schedule comes from, as pages print it; "en" always present
    source_names: dict[str, str]

    @property
    def source_name(self) -> str:
        return in_language(self.source_names)


def _names(where: str, raw: Any, languages: list[str]) -> dict[str, str]:
    """``raw`` as language -> name; a language of the pack (or English) without one: refused."""
    names = {str(k): str(v) for k, v in raw.items() if v} if isinstance(raw, dict) else {}
    missing = [lang for lang in dict.fromkeys(["en", *languages]) if not names.get(lang)]
    if missing:
        raise pack.PackError(f"child.yaml {where}: no name in {', '.join(missing)}")
    return names


@lru_cache
def _schedule(country: str) -> WellChildSchedule:
    """The schedule, read once; every name in English and each of the pack's languages."""
    languages = [str(lang) for lang in pack.load(country).get("languages", [])]
    data = pack.load(country, "child")["well_child_visits"]
    visits = tuple(
        ScheduleItem(
            age_days=int(v["age_days"]),
            before=int(v["before"]),
            after=int(v["after"]),
            names=_names(f"well_child_visits.visits.{i}", v.get("names"), languages),
        )
        for i, v in enumerate(data["visits"])
    )
    return WellChildSchedule(
        visits=visits,
        source=str(data["source"]),
        source_names=_names("well_child_visits.source_names", data.get("source_names"), languages),
    )


def well_child_schedule(country: str | None = None) -> WellChildSchedule:
    """The country pack's well-child visits (youngest first, as listed) and their source."""
    return _schedule((country or get_settings().country).upper())


def visit_schedule(
    birth_date: date, visits: list[VisitOut], today: date, country: str | None = None
) -> list[ScheduledVisit]:
    """Each scheduled visit and whether a visit was made in its window (pure).

    done: a visit in [due - before, due + after]; due: today in the window;
    upcoming: before it; overdue: the window has passed and no later scheduled
    visit's window has opened; missed: passed, and a later one is open or past.
    """
    items = well_child_schedule(country).visits
    used: set[int] = set()
    out: list[ScheduledVisit] = []
    for i, item in enumerate(items):
        due = birth_date + timedelta(days=item.age_days)
        start = due - timedelta(days=item.before)
        end = due + timedelta(days=item.after)
        hit = next((v for v in visits if v.id not in used and start <= v.on <= end), None)
        if hit is not None:
            used.add(hit.id)
            status = "done"
        elif today < start:
            status = "upcoming"
        elif today <= end:
            status = "due"
        else:
            nxt = items[i + 1] if i + 1 < len(items) else None
            next_open = nxt is not None and today >= birth_date + timedelta(
                days=nxt.age_days - nxt.before
            )
            status = "missed" if next_open else "overdue"
        out.append(
            ScheduledVisit(
                age_days=item.age_days,
                label=item.names["en"],
                names=dict(item.names),
                due_on=due,
                status=status,  # type: ignore[arg-type]
                visit_id=hit.id if hit else None,
            )
        )
    return out
