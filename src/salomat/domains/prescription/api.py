"""REST routes of e-prescriptions: formulary, prescriptions, dispensing, claims."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Body, Depends, Header, Query, Response

from salomat.core.errors import FieldError, Invalid
from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.prescription import service
from salomat.domains.prescription.schemas import (
    ClaimLineOut,
    ClaimOut,
    ClaimReviewIn,
    DispenseIn,
    DispensingLookupIn,
    DispensingOut,
    DispensingViewOut,
    FormularyImportReport,
    MedicineOut,
    MyPrescriptionOut,
    PrescriptionCancelIn,
    PrescriptionIn,
    PrescriptionOut,
)

api = router(prefix="/api/v1", tags=["prescription"])
routers = [api]


# ---- formulary and prescribing (the doctor) -------------------------------------------


FORMULARY_CSV = Body(
    media_type="text/csv",
    description="code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price",
)
Prescriber = Annotated[Principal, Depends(Require("prescription:write"))]
PrescriptionReader = Annotated[Principal, Depends(Require("prescription:read"))]


@api.get(
    "/formulary",
    response_model=list[MedicineOut],
    dependencies=[Depends(Require("formulary:read"))],
)
async def list_formulary(
    session: DbSession,
    inn: Annotated[str | None, Query(max_length=200)] = None,
    atc: Annotated[str | None, Query(max_length=7)] = None,
) -> list[MedicineOut]:
    """Active packages by INN (prefix, any case) and/or ATC (prefix: C09 for ACE inhibitors)."""
    return await service.list_formulary(session, inn=inn, atc=atc)


@api.post("/formulary/import", response_model=FormularyImportReport)
async def import_formulary(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("formulary:manage"))],
    body: Annotated[bytes, FORMULARY_CSV],
    dry_run: bool = False,
) -> FormularyImportReport:
    """All rows or none: a bad row answers 422 naming each line, column and why."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid.fields([FieldError("body", "the CSV must be UTF-8")]) from None
    report = await service.import_formulary(session, text, dry_run=dry_run)
    if report.errors:
        raise Invalid(
            f"{len({e.line for e in report.errors})} line(s) of the file are wrong; "
            "nothing was stored.",
            errors=[FieldError(f"line {e.line}: {e.column}", e.reason) for e in report.errors],
        )
    return report


@api.post(
    "/persons/{person_id}/prescriptions",
    response_model=PrescriptionOut,
    status_code=201,
    responses={
        409: {"description": "an active prescription of this INN exists, or the person died"},
        422: {"description": "a field is wrong, the diagnosis does not qualify, over the limit"},
    },
)
async def create_prescription(
    session: DbSession,
    person_id: RowId,
    data: PrescriptionIn,
    response: Response,
    principal: Prescriber,
) -> PrescriptionOut:
    """Prescribe one formulary package; the quantity and the code are computed."""
    p = await service.create_prescription(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/prescriptions/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/persons/{person_id}/prescriptions", response_model=list[PrescriptionOut])
async def list_prescriptions(
    session: DbSession,
    person_id: RowId,
    principal: PrescriptionReader,
    status: Annotated[str | None, Query(pattern="^(active|dispensed|cancelled|expired)$")] = None,
) -> list[PrescriptionOut]:
    """A person's prescriptions, newest first."""
    return await service.list_prescriptions(session, principal, person_id, status=status)


@api.get("/prescriptions/{prescription_id}", response_model=PrescriptionOut)
async def read_prescription(
    session: DbSession,
    prescription_id: RowId,
    response: Response,
    principal: PrescriptionReader,
) -> PrescriptionOut:
    """One prescription; the ETag is for If-Match."""
    p = await service.get_prescription(session, principal, prescription_id)
    response.headers["ETag"] = etag(p.version)
    return p


@api.post("/prescriptions/{prescription_id}/cancel", response_model=PrescriptionOut)
async def cancel_prescription(
    session: DbSession,
    prescription_id: RowId,
    data: PrescriptionCancelIn,
    response: Response,
    principal: Prescriber,
    if_match: Annotated[str | None, Header()] = None,
) -> PrescriptionOut:
    """Cancel (its prescriber or the facility's doctor) while units remain undispensed."""
    p = await service.cancel_prescription(
        session, principal, prescription_id, data.reason, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/prescriptions/{prescription_id}/qr.svg", response_class=Response)
async def prescription_qr(
    session: DbSession, prescription_id: RowId, principal: PrescriptionReader
) -> Response:
    """The QR code of the prescription's code (the code only, no health data)."""
    svg = await service.prescription_qr_svg(session, principal, prescription_id)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# ---- dispensing (the pharmacist) ------------------------------------------------------

Dispenser = Annotated[Principal, Depends(Require("prescription:dispense"))]


@api.post("/dispensing/lookup", response_model=DispensingViewOut)
async def lookup_for_dispensing(
    session: DbSession, data: DispensingLookupIn, principal: Dispenser
) -> DispensingViewOut:
    """Find ONE prescription by its code and the patient's national id (no browsing).

    A wrong pair answers 404 exactly like a missing code and is audited; after
    20 misses in 15 minutes the user gets 429. The answer has no diagnosis: the
    patient's name and birth year, what remains, the substitutable packages.
    """
    return await service.find_for_dispensing(session, principal, data.code, data.national_id)


@api.post(
    "/prescriptions/{prescription_id}/dispensings", response_model=DispensingOut, status_code=201
)
async def dispense(
    session: DbSession,
    prescription_id: RowId,
    data: DispenseIn,
    response: Response,
    principal: Dispenser,
) -> DispensingOut:
    """Dispense all or part of what remains (``units`` or ``packages``; ``Idempotency-Key``).

    Only after a lookup at this pharmacy. Refusals: 409 (expired, cancelled, fully
    dispensed, died, more units than remain: ``errors[0].field == "units"`` and
    ``remaining_units``), 422 naming ``medicine_code`` for another INN.
    """
    out = await service.dispense(session, principal, prescription_id, data)
    response.headers["Location"] = f"/fhir/MedicationDispense/{out.id}"
    return out


@api.get("/prescriptions/{prescription_id}/dispensings", response_model=list[DispensingOut])
async def list_dispensings(
    session: DbSession, prescription_id: RowId, principal: Dispenser
) -> list[DispensingOut]:
    """The prescription's dispensings, oldest first (for the pharmacy that looked it up)."""
    return await service.list_dispensings(session, principal, prescription_id)


# ---- claims to the fund and the citizen portal -----------------------------------------


ClaimReader = Annotated[Principal, Depends(Require("claim:read"))]
ClaimReviewer = Annotated[Principal, Depends(Require("claim:review"))]
PortalReader = Annotated[Principal, Depends(Require("prescription:portal"))]


def _month(value: str | None) -> date | None:
    return service.parse_month(value) if value else None


@api.get("/claims", response_model=list[ClaimOut])
async def list_claims(
    session: DbSession,
    principal: ClaimReader,
    facility: str | None = None,
    month: str | None = None,
) -> list[ClaimOut]:
    """Monthly claims with their totals (``facility``: a pharmacy's code; ``month``: YYYY-MM).

    A pharmacist sees her own pharmacy's claims only; the fund's analyst sees all.
    """
    return await service.list_claims(session, principal, facility=facility, month=_month(month))


@api.get("/claims/{claim_id}", response_model=ClaimOut)
async def read_claim(session: DbSession, claim_id: RowId, principal: ClaimReader) -> ClaimOut:
    """One claim with its lines and totals (another pharmacy's claim: 404)."""
    return await service.get_claim(session, principal, claim_id)


@api.post("/claims/{claim_id}/submit", response_model=ClaimOut)
async def submit_claim(session: DbSession, claim_id: RowId, principal: ClaimReader) -> ClaimOut:
    """The pharmacist submits her pharmacy's claim once its month has ended (open -> submitted)."""
    return await service.submit_claim(session, principal, claim_id)


@api.get("/claim-lines", response_model=list[ClaimLineOut])
async def list_claim_lines(
    session: DbSession,
    principal: ClaimReader,
    status: str | None = "flagged",
    rule: str | None = None,
    month: str | None = None,
    facility: str | None = None,
) -> list[ClaimLineOut]:
    """The reviewer's worklist: lines by ``status`` (default flagged), ``rule``, month, pharmacy.

    ``status=any`` lists every status.
    """
    return await service.list_claim_lines(
        session,
        principal,
        status=None if status == "any" else status,
        rule=rule or None,
        month=_month(month),
        facility=facility,
    )


@api.post("/claim-lines/{line_id}/review", response_model=ClaimLineOut)
async def review_claim_line(
    session: DbSession, line_id: RowId, data: ClaimReviewIn, principal: ClaimReviewer
) -> ClaimLineOut:
    """Approve or reject one line; a rejection needs its reason in ``note`` (422 otherwise)."""
    return await service.review_claim_line(session, principal, line_id, data)


@api.get("/me/prescriptions", response_model=list[MyPrescriptionOut])
async def my_prescriptions(session: DbSession, principal: PortalReader) -> list[MyPrescriptionOut]:
    """The citizen's prescriptions and her children's: status, what remains, where dispensed."""
    return await service.my_prescriptions(session, principal)
