"""The antenatal contact schedule (WHO SMART ANC DAK, ANC.S.01): pure, no database.

Source: the DAK's scheduling logic ANC.S.01 and its CQL (library ANCS01 in
WorldHealthOrganization/smart-anc: contacts at 12, 20, 26, 30, 34, 36, 38 and
40 weeks; the first "up to 12 weeks"), read as ../shared/domain/maternal.md
reads it: contacts are counted in sequence, not matched to calendar slots.

- Every recorded contact is a contact, numbered in order of gestational age:
  one at 18 weeks after one at 10 is the second contact, whatever the slots.
- The next contact is due at the first scheduled week after the latest
  contact that the contact does not stand for: a contact up to 6 days before a
  scheduled week is that week's contact (after 20w0d: next at 26; after 19w1d:
  26, it was the 20-week contact; after 19w0d: 20; after 10 weeks: 20, the
  schedule's first week being the first contact's deadline, "up to 12 weeks").
  A woman who comes at the weeks the DAK schedules is never "missed" or
  "overdue", and one who comes early just moves her next contact on.
- A woman first seen late (DAK rule 7: at 22 weeks or later) gets the
  remaining scheduled contacts from that visit on; the contacts before her
  first visit are never listed as missed.
- Without any contact yet, the first contact is due at the first scheduled
  week (12), or from registration when she registered later; the later
  contacts are planned from today on, so only that first one is chased.
- A due contact is ``due`` for ``OVERDUE_AFTER_DAYS`` days, then ``overdue``
  until the next scheduled week falls due, then ``missed`` (the next one is
  then the one to keep); the schedule ends at 41 weeks, when the woman is
  referred for delivery (not a contact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

ContactStatus = Literal["done", "due", "overdue", "upcoming", "missed"]

#: ANC.S.01: overdue 7 days after the due date; schedule expires at 41 weeks.
OVERDUE_AFTER_DAYS = 7
SCHEDULE_EXPIRES_DAYS = 41 * 7
#: a contact in the days just before a scheduled week is that week's contact (the same
#: tolerance as the 7 days after it before it is overdue): 19w1d is the 20-week contact,
#: and the next is at 26 weeks, not the next day
EARLY_TOLERANCE_DAYS = 6

__all__ = [
    "EARLY_TOLERANCE_DAYS",
    "OVERDUE_AFTER_DAYS",
    "SCHEDULE_EXPIRES_DAYS",
    "ContactStatus",
    "DueContact",
    "contact_schedule",
    "next_due_week",
]


@dataclass(frozen=True)
class DueContact:
    #: the contact's place in the sequence (1 = first contact)
    number: int
    #: completed weeks: for a done contact, when it was; else the week it is due
    ga_weeks: int
    due_on: date
    status: ContactStatus


def next_due_week(weeks: Sequence[int], ga_days: int) -> int | None:
    """The first scheduled week after a contact at ``ga_days`` that it does not stand for.

    The schedule's first week (12) is the first contact's deadline ("up to 12
    weeks"), not a contact of its own: after a contact at 10 weeks the next is at 20.
    A contact up to ``EARLY_TOLERANCE_DAYS`` before a scheduled week is that week's.
    """
    return next((w for w in sorted(weeks)[1:] if w * 7 - ga_days > EARLY_TOLERANCE_DAYS), None)


def _status(today: date, today_ga: int, due_on: date, end_day: int) -> ContactStatus:
    if today < due_on:
        return "upcoming"
    if today_ga >= end_day:
        return "missed"
    if today < due_on + timedelta(days=OVERDUE_AFTER_DAYS):
        return "due"
    return "overdue"


def contact_schedule(
    *,
    weeks: Sequence[int],
    today: date,
    today_ga_days: int,
    contacts: Sequence[tuple[date, int]],
    registered_on: date | None = None,
) -> list[DueContact]:
    """The contacts of one pregnancy: the ones done, then the ones still planned.

    ``contacts`` are (date, GA in days) of the recorded contacts, in any order;
    ``today_ga_days`` is her GA today; ``registered_on`` the registration date
    (the first contact is due from then when none is recorded yet).
    """
    plan = sorted({int(w) for w in weeks})
    start = today - timedelta(days=today_ga_days)
    done = sorted(contacts, key=lambda c: (c[1], c[0]))
    out = [DueContact(i + 1, ga // 7, on, "done") for i, (on, ga) in enumerate(done)]
    number = len(out) + 1
    if done:
        last_ga = done[-1][1]
    else:
        # the first contact: by the first scheduled week (the CQL's "ANC First Contact
        # Date", 12 weeks), or from registration when she registered later; never missed.
        # The contacts after it are planned from today on: until she comes, no later
        # contact is due or missed (one thing to chase at a time).
        registered = min(registered_on or today, today)
        first_week = start + timedelta(days=plan[0] * 7) if plan else registered
        first_on = max(first_week, registered)
        first_status: ContactStatus = (
            "upcoming"
            if today < first_on
            else "due"
            if today < first_on + timedelta(days=OVERDUE_AFTER_DAYS)
            else "overdue"
        )
        out.append(DueContact(number, (first_on - start).days // 7, first_on, first_status))
        number += 1
        last_ga = max((first_on - start).days, today_ga_days)
    remaining = [w for w in plan[1:] if w * 7 - last_ga > EARLY_TOLERANCE_DAYS]
    for i, w in enumerate(remaining):
        due_on = start + timedelta(days=w * 7)
        end_day = remaining[i + 1] * 7 if i + 1 < len(remaining) else SCHEDULE_EXPIRES_DAYS
        end_day = min(end_day, SCHEDULE_EXPIRES_DAYS)
        out.append(DueContact(number, w, due_on, _status(today, today_ga_days, due_on, end_day)))
        number += 1
    return out
