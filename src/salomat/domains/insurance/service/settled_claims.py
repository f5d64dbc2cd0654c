"""What each service claim pays in a provider's monthly settlement, so that a provider's
system can match the fund's payment to the claims it sent (FHIR PaymentReconciliation's
``detail``).

A claim's amount is its lines' as they stand, by the settlement's own rule
(``settlement._paid_and_pending``: a line no rule flagged at its claimed amount, an
accepted or reduced one at its approved amount, a rejected or still flagged one
nothing). Their sum is the settlement's ``services`` of a closed settlement (a close
computes the month again, and a closed month takes no decision and no new claim); a
draft computed before a later decision states the amount of that computation, the
claims what their lines pay now, until it is computed again. Sums only: no person
data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from salomat.domains.insurance.schemas.claims import SettlementOut
from salomat.domains.insurance.service.claims import own_facility
from salomat.domains.insurance.service.rules import add_months
from salomat.domains.insurance.service.settlement import _paid_and_pending

__all__ = ["SettledClaim", "settled_claims"]


@dataclass(frozen=True)
class SettledClaim:
    claim_id: int
    #: the sender's own number of the claim, where it gave one
    external_id: str | None
    #: what the claim's lines pay as they stand (minor units)
    amount: int


async def settled_claims(
    session: AsyncSession, principal: Principal, settlements: Sequence[SettlementOut]
) -> dict[int, list[SettledClaim]]:
    """Per settlement id, the service claims of its provider and month with what each
    pays (claims by id); a provider reads only its own facility's."""
    own = own_facility(principal)
    paid, _ = _paid_and_pending()
    by_month: dict[date, list[SettlementOut]] = defaultdict(list)
    for s in settlements:
        if own is None or s.facility_id == own:
            by_month[s.month].append(s)
    out: dict[int, list[SettledClaim]] = {s.id: [] for s in settlements}
    for month, these in by_month.items():
        of = {s.facility_id: s.id for s in these}
        rows = await session.execute(
            select(
                ClaimLine.facility_id,
                ClaimLine.claim_id,
                ServiceClaim.external_id,
                func.coalesce(func.sum(paid), 0),
            )
            .join(ServiceClaim, ServiceClaim.id == ClaimLine.claim_id)
            .where(
                ClaimLine.facility_id.in_(of),
                ClaimLine.service_on >= month,
                ClaimLine.service_on < add_months(month, 1),
            )
            .group_by(ClaimLine.facility_id, ClaimLine.claim_id, ServiceClaim.external_id)
            .order_by(ClaimLine.claim_id)
        )
        for facility_id, claim_id, external_id, amount in rows.all():
            out[of[facility_id]].append(SettledClaim(int(claim_id), external_id, int(amount)))
    return out
