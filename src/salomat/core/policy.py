"""The one place that decides permissions. Deny by default.

Every route declares what it needs: ``Depends(Require("person:read"))`` or
``Depends(PUBLIC)`` (``RequireAny`` for a route whose parts each check their
own). A test walks every route of the app and fails on a route that declares
nothing. Person-level reads go further through
``patient_access``: the role must hold the permission *and* the person must be
in the user's scope (attached to their facility, an open care relationship
there, their own record, or a live break-the-glass grant). Out-of-scope reads
answer like a missing record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, Forbidden, NotFound, Unauthorized
from salomat.core.permission_texts import permission_text, role_text
from salomat.core.security import Principal


class Role(StrEnum):
    admin = "admin"
    auditor = "auditor"
    registrar = "registrar"
    nurse = "nurse"
    family_doctor = "family_doctor"
    obstetrician = "obstetrician"
    pharmacist = "pharmacist"
    sanatorium_admin = "sanatorium_admin"
    oncologist = "oncologist"
    #: keeps the population-based cancer registry: places notifications, confirms rare
    #: combinations (issue 16, docs/cancer.md)
    cancer_registrar = "cancer_registrar"
    insurance_analyst = "insurance_analyst"
    analyst = "analyst"
    epidemiologist = "epidemiologist"
    citizen = "citizen"
    #: an employer organisation's account: checks its employees' sick-leave certificates
    #: (validity and dates only); bound to one employer (``User.employer_id``)
    employer = "employer"
    #: the national statistics office (or a data warehouse) under a data-sharing agreement:
    #: pulls whole populations by FHIR Bulk Data export, sees no page of anyone (issue 19)
    statistician = "statistician"
    #: codes causes of death: reviews the underlying cause of the death certificates the
    #: rules could not settle (issue 20, docs/mortality.md); sees certificates, nothing else
    mortality_coder = "mortality_coder"
    #: plans the primary-care network of a region or the country: settlements, norm gaps,
    #: access, staffing and mobile teams (issue 22, docs/planning.md); aggregates and the
    #: registries of places, facilities and staff, no person's record
    planner = "planner"


#: Roles that act for a facility and must be bound to one.
FACILITY_ROLES = frozenset(
    {
        Role.registrar,
        Role.nurse,
        Role.family_doctor,
        Role.obstetrician,
        Role.pharmacist,
        Role.sanatorium_admin,
        Role.oncologist,
    }
)
#: Roles that treat patients and may break the glass.
CLINICAL_ROLES = frozenset({Role.nurse, Role.family_doctor, Role.obstetrician, Role.oncologist})

_ANY = frozenset(Role)
#: the health system's own people: every role but the citizen and the employer (an
#: employer's account sees nothing of the registries, only certificates shared with it)
_STAFF = _ANY - {Role.citizen, Role.employer}

PERMISSIONS: dict[str, frozenset[Role]] = {
    # own account and session
    "session:self": _ANY,
    # accounts administration
    "user:manage": frozenset({Role.admin}),
    "user:read": frozenset({Role.admin, Role.auditor}),
    # audit trail
    "audit:read": frozenset({Role.admin, Role.auditor}),
    "audit:self": frozenset({Role.citizen}),
    # registries
    "facility:read": _STAFF,
    "facility:manage": frozenset({Role.admin}),
    "territory:read": _STAFF,
    "territory:manage": frozenset({Role.admin}),
    "practitioner:read": _STAFF,
    "practitioner:manage": frozenset({Role.admin}),
    "person:create": frozenset({Role.registrar}),
    "person:read": frozenset(
        {Role.registrar, *CLINICAL_ROLES, Role.citizen, Role.cancer_registrar}
    ),
    "person:search": frozenset({Role.registrar, *CLINICAL_ROLES, Role.cancer_registrar}),
    "person:update": frozenset({Role.registrar}),
    # a death is entered from the medical death certificate: by its doctor or the registry
    "person:death": frozenset({Role.registrar, Role.family_doctor}),
    # merging two records of one person re-points every domain's rows
    "person:merge": frozenset({Role.registrar}),
    # a child's mother, father or guardian, recorded from a document (docs/registries.md)
    "person:relate": frozenset({Role.registrar}),
    "break_glass:request": frozenset(CLINICAL_ROLES),
    # the medical certificate of cause of death (issue 20, docs/mortality.md): the doctors
    # who certify deaths of their facility's people; the mortality coder reviews the
    # underlying cause where the rules send a certificate to a coder. Diagnoses: no
    # registrar, nurse, citizen, employer or fund role reads them here
    "death_certificate:read": frozenset(
        {Role.family_doctor, Role.obstetrician, Role.oncologist, Role.mortality_coder}
    ),
    "death_certificate:certify": frozenset(
        {Role.family_doctor, Role.obstetrician, Role.oncologist}
    ),
    "death_certificate:review": frozenset({Role.mortality_coder}),
    # maternal care: the family doctor or obstetrician registers and closes a pregnancy;
    # the patronage nurse (and they) record antenatal contacts (docs/maternal.md)
    "pregnancy:read": frozenset({Role.nurse, Role.family_doctor, Role.obstetrician}),
    "pregnancy:register": frozenset({Role.family_doctor, Role.obstetrician}),
    "pregnancy:contact": frozenset({Role.nurse, Role.family_doctor, Role.obstetrician}),
    # resolving a standing diagnosis can lower the risk level and level of care: a doctor's
    "pregnancy:diagnose": frozenset({Role.family_doctor, Role.obstetrician}),
    # referrals (docs/maternal.md): primary care sends; the receiving facility's
    # obstetricians accept, see and return them; the family doctor and the patronage
    # nurse work from the antenatal worklist
    "referral:send": frozenset({Role.nurse, Role.family_doctor, Role.obstetrician}),
    "referral:read": frozenset({Role.nurse, Role.family_doctor, Role.obstetrician}),
    "referral:receive": frozenset({Role.obstetrician}),
    "worklist:read": frozenset({Role.nurse, Role.family_doctor}),
    # the citizen portal's own pregnancy record (her own person only)
    "pregnancy:portal": frozenset({Role.citizen}),
    # aggregate figures only (no person data): ministry and regional analysts, the
    # epidemiologist, and obstetricians who coordinate perinatal care in a region
    "maternal_dashboard:read": frozenset({Role.analyst, Role.epidemiologist, Role.obstetrician}),
    # immunization registry (issue 5): the nurse and family doctor record and plan doses;
    # a citizen reads her own card and her children's (person scope decides whose)
    "immunization:read": frozenset({Role.nurse, Role.family_doctor, Role.citizen}),
    "immunization:record": frozenset({Role.nurse, Role.family_doctor}),
    "immunization:worklist": frozenset({Role.nurse, Role.family_doctor}),
    # the citizen portal's own revaccination notice (her own record only)
    "immunization:portal": frozenset({Role.citizen}),
    # coverage is aggregate (no person data)
    "immunization:coverage": frozenset({Role.analyst, Role.epidemiologist, Role.family_doctor}),
    # the child's health passport: growth, newborn data, well-child visits
    "child:read": frozenset({Role.nurse, Role.family_doctor, Role.obstetrician, Role.citizen}),
    "child:record": frozenset({Role.nurse, Role.family_doctor}),
    # the citizen portal's list of her own children
    "child:portal": frozenset({Role.citizen}),
    # e-prescriptions (issue 6): the formulary is reference data; doctors prescribe for
    # people in their scope; the pharmacist finds one prescription by its code and the
    # patient's national id (never by browsing); the fund's analyst reviews claims
    "formulary:read": _STAFF,
    "formulary:manage": frozenset({Role.admin}),
    "prescription:write": frozenset({Role.family_doctor, Role.obstetrician, Role.oncologist}),
    "prescription:read": frozenset(
        {Role.family_doctor, Role.obstetrician, Role.oncologist, Role.nurse, Role.citizen}
    ),
    "prescription:dispense": frozenset({Role.pharmacist}),
    "claim:read": frozenset({Role.pharmacist, Role.insurance_analyst}),
    "claim:review": frozenset({Role.insurance_analyst}),
    # the citizen portal's own prescriptions (and her young children's)
    "prescription:portal": frozenset({Role.citizen}),
    # sick-leave certificates (issue 14, docs/sick-leave.md): doctors and the mid-level
    # practitioners the pack allows issue and extend; the medical advisory commission
    # (VKK) decides extensions past one doctor's limit; the citizen reads her own; an
    # employer sees only validity and dates of certificates shared with it; analytics
    # are aggregate
    "sick_leave:read": frozenset(
        {Role.family_doctor, Role.nurse, Role.obstetrician, Role.oncologist, Role.citizen}
    ),
    "sick_leave:issue": frozenset(
        {Role.family_doctor, Role.nurse, Role.obstetrician, Role.oncologist}
    ),
    "sick_leave:vkk": frozenset({Role.family_doctor, Role.obstetrician, Role.oncologist}),
    "sick_leave:portal": frozenset({Role.citizen}),
    "sick_leave:employer": frozenset({Role.employer}),
    "sick_leave:analytics": frozenset({Role.analyst, Role.insurance_analyst}),
    # the electronic sanatorium (issue 15, docs/sanatorium.md): doctors refer and book
    # after-care places; the registry clerk corrects an entitlement category (a logged
    # change of order); the sanatorium's staff publish places and admit; the citizen
    # applies, follows her place and answers offers; analysts see aggregates only. Free
    # places and the pseudonymised queue are public (no permission).
    "sanatorium:refer": frozenset({Role.family_doctor, Role.obstetrician, Role.oncologist}),
    "sanatorium:read": frozenset(
        {Role.family_doctor, Role.obstetrician, Role.oncologist, Role.nurse}
    ),
    "sanatorium:queue": frozenset({Role.registrar}),
    "sanatorium:manage": frozenset({Role.sanatorium_admin}),
    "sanatorium:admit": frozenset({Role.sanatorium_admin}),
    "sanatorium:portal": frozenset({Role.citizen}),
    "sanatorium:dashboard": frozenset({Role.analyst, Role.insurance_analyst}),
    # the population-based cancer registry (issue 16, docs/cancer.md): clinicians notify
    # cancers of their patients; the cancer registry's registrars enter pathology and
    # discharge reports, place what the rules cannot and confirm rare combinations;
    # oncologists follow their patients up; rates and quality indicators are aggregate
    "cancer:notify": frozenset(
        {Role.family_doctor, Role.obstetrician, Role.oncologist, Role.cancer_registrar}
    ),
    "cancer:read": frozenset({Role.family_doctor, Role.oncologist, Role.cancer_registrar}),
    "cancer:register": frozenset({Role.cancer_registrar}),
    "cancer:follow_up": frozenset({Role.oncologist, Role.cancer_registrar}),
    "cancer:statistics": frozenset(
        {Role.analyst, Role.epidemiologist, Role.cancer_registrar, Role.oncologist}
    ),
    # the health-insurance fund (issue 17, docs/insurance.md): the fund's analyst takes in
    # payment files, keeps payers and the protected-category lists, reviews flagged claim
    # lines and settles providers; providers check a person's eligibility (insured or not,
    # never who paid) and claim services; the citizen sees her own status and payments
    "insurance:manage": frozenset({Role.insurance_analyst}),
    "insurance:eligibility": frozenset(
        {
            Role.registrar,
            Role.nurse,
            Role.family_doctor,
            Role.obstetrician,
            Role.oncologist,
            Role.pharmacist,
            Role.sanatorium_admin,
            Role.insurance_analyst,
        }
    ),
    "insurance:claim": frozenset(
        {
            Role.registrar,
            Role.family_doctor,
            Role.obstetrician,
            Role.oncologist,
            Role.sanatorium_admin,
        }
    ),
    # claims and settlements are read by the provider that claimed (its own facility's)
    # and by the fund
    "insurance:claim_read": frozenset(
        {
            Role.registrar,
            Role.family_doctor,
            Role.obstetrician,
            Role.oncologist,
            Role.sanatorium_admin,
            Role.insurance_analyst,
        }
    ),
    "insurance:review": frozenset({Role.insurance_analyst}),
    "insurance:dashboard": frozenset({Role.insurance_analyst, Role.analyst}),
    "insurance:portal": frozenset({Role.citizen}),
    # the shared health record (issue 18, docs/record.md): clinicians read and send the
    # FHIR resources other systems keep for a person; the admin registers the identifier
    # systems (NamingSystem) whose identifiers the record takes
    "record:read": frozenset(CLINICAL_ROLES),
    "record:write": frozenset(CLINICAL_ROLES),
    "record:naming": frozenset({Role.admin}),
    # system-to-system exchange (issue 19, docs/exchange.md): bulk export of a population
    # (the statistician nationally; a facility's clinicians and registrar their attached
    # people, Group export), the jobs' operations page, registered client systems, FHIR
    # subscriptions (a facility's systems for what concerns the facility), the national
    # code systems and profiles (reference data every staff role and system reads)
    "bulk:export": frozenset({Role.statistician, Role.registrar, *CLINICAL_ROLES}),
    "jobs:read": frozenset({Role.admin}),
    "client:manage": frozenset({Role.admin}),
    "subscription:manage": frozenset(
        {Role.registrar, *CLINICAL_ROLES, Role.pharmacist, Role.sanatorium_admin}
    ),
    "subscription:admin": frozenset({Role.admin}),
    "terminology:read": _STAFF,
    # employer organisations (registry data, like facilities)
    "employer:read": frozenset({Role.admin}),
    "employer:manage": frozenset({Role.admin}),
    # national health indicators (issue 20, docs/statistics.md): aggregates only, no
    # person data; the admin and the analyst may recompute a period on demand
    "statistics:read": frozenset(
        {Role.analyst, Role.epidemiologist, Role.statistician, Role.admin}
    ),
    "statistics:compute": frozenset({Role.admin, Role.analyst}),
    # screening and disease-management programmes (issue 21, docs/screening.md): the
    # nurse and family doctor screen, follow DMP patients up and work from the section's
    # lists; the doctor enrols (a diagnosis); the citizen reads her own card and her
    # screenings due; target-group counts and indicators are aggregate
    "screening:read": frozenset({Role.nurse, Role.family_doctor, Role.citizen}),
    "screening:record": frozenset({Role.nurse, Role.family_doctor}),
    "screening:enrol": frozenset({Role.family_doctor}),
    "screening:worklist": frozenset({Role.nurse, Role.family_doctor}),
    "screening:portal": frozenset({Role.citizen}),
    "screening:coverage": frozenset(
        {Role.nurse, Role.family_doctor, Role.analyst, Role.epidemiologist}
    ),
    # planning the primary-care network (issue 22, docs/planning.md): the planner and the
    # ministry's analysts read settlements, norm gaps, access and staffing (aggregates and
    # registries, no person data); the planner imports census figures and saves scenarios;
    # a mobile team's nurse and family doctor record the visits of the team
    "planning:read": frozenset({Role.planner, Role.analyst, Role.epidemiologist}),
    "planning:edit": frozenset({Role.planner}),
    "planning:mobile": frozenset({Role.nurse, Role.family_doctor}),
    # epidemic surveillance (issue 23, docs/epidemic.md): every clinician notifies a case
    # of a notifiable disease (no lab or hospital role exists yet: the clinical roles
    # report for their own facility, as they report its beds and daily occupancy; the admin
    # registers beds for any facility); a notification is a diagnosis, read only by the
    # epidemiologist (and the notifying facility); counts and capacity are aggregates for
    # the epidemiologist and the analyst (small counts suppressed for the analyst)
    "epidemic:report": CLINICAL_ROLES,
    "epidemic:capacity": frozenset({*CLINICAL_ROLES, Role.admin}),
    "epidemic:read": frozenset({Role.epidemiologist, Role.analyst}),
    "epidemic:cases": frozenset({Role.epidemiologist}),
}

#: Roles whose person reads are not limited to a facility (with why).
NATIONAL_PERSON_SCOPE: dict[Role, str] = {
    Role.registrar: "registers and attaches people, so must find anyone in the national index",
    Role.cancer_registrar: "keeps the population-based cancer registry: links reports "
    "about anyone resident",
    Role.statistician: "pulls whole populations for national statistics under a "
    "data-sharing agreement (bulk export only: no other permission reads a person)",
    Role.mortality_coder: "codes the causes of death on certificates from anywhere in the "
    "country (death certificates only: no other permission reads a person)",
}


#: the granted scopes of the client system whose request this is (None: a person's, or no
#: request): set by the principal's resolver, so that a service's own ``allowed`` checks (a
#: page's links, what a merged answer takes in) narrow a client system as ``Require`` does
_system_scopes: ContextVar[frozenset[str] | None] = ContextVar(
    "salomat_system_scopes", default=None
)


def bind_system_scopes(scopes: frozenset[str] | None) -> Token[frozenset[str] | None]:
    """The request's caller is a client system with these scopes (None: it is not)."""
    return _system_scopes.set(scopes)


def reset_system_scopes(token: Token[frozenset[str] | None]) -> None:
    _system_scopes.reset(token)


def role_holds(role: str, permission: str) -> bool:
    """The role alone holds ``permission`` (whatever scopes a client system has)."""
    holders = PERMISSIONS.get(permission)
    if holders is None:
        raise KeyError(f"undeclared permission {permission!r}")
    return role in holders


def allowed(role: str, permission: str) -> bool:
    """The role holds ``permission`` (and, in a client system's request, one of its scopes
    covers it: core.scopes)."""
    if not role_holds(role, permission):
        return False
    scopes = _system_scopes.get()
    if scopes is None:
        return True
    from salomat.core.scopes import covers

    return covers(scopes, permission)


def permitted(principal: Principal, permission: str) -> bool:
    """The role holds ``permission`` and, for a client system, one of its granted scopes
    covers it (core.scopes)."""
    if not role_holds(principal.role, permission):
        return False
    if principal.scopes is None:
        return True
    from salomat.core.scopes import covers

    return covers(principal.scopes, permission)


def facility_required(role: str) -> bool:
    return role in FACILITY_ROLES


class Public:
    """Marks a route as reachable without logging in (login, health, static)."""

    permission = None

    async def __call__(self, request: Request) -> Principal | None:
        return getattr(request.state, "principal", None)


PUBLIC = Public()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Require:
    """Dependency: the caller is logged in and their role holds ``permission``."""

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise KeyError(f"undeclared permission {permission!r}")
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            err = getattr(request.state, "auth_error", None)
            raise err if isinstance(err, Unauthorized) else Unauthorized()
        if principal.via == "cookie" and request.method not in SAFE_METHODS:
            await _check_csrf(request, principal)
        if not role_holds(principal.role, self.permission):
            from salomat.core import audit

            await audit.denied(
                request.state.session,
                principal,
                resource_type=self.permission.split(":")[0],
                detail=f"role {principal.role} lacks {self.permission}",
            )
            raise Forbidden(
                N_("Your role (%(role)s) may not do this: %(what)s."),
                params={
                    "role": role_text(principal.role),
                    "what": permission_text(self.permission),
                },
                extensions={"role": principal.role, "permission": self.permission},
            )
        if principal.scopes is not None and not permitted(principal, self.permission):
            from salomat.core import audit

            await audit.denied(
                request.state.session,
                principal,
                resource_type=self.permission.split(":")[0],
                detail=f"scopes {' '.join(sorted(principal.scopes))} do not cover "
                f"{self.permission}"[:500],
            )
            raise Forbidden(
                N_("The client system's scopes do not allow this: %(what)s."),
                params={"what": permission_text(self.permission)},
                extensions={"permission": self.permission, "scope": sorted(principal.scopes)},
            )
        return principal


class RequireAny(Require):
    """Dependency: the caller is logged in and their role holds one of ``permissions``.

    For a route whose parts each need a permission of their own (a FHIR Bundle's
    entries, fhir/bundle.py): it admits whoever may do any of them, and each part then
    checks its own. The first permission the role holds is checked as ``Require``
    checks it (a cookie session's write needs the form's token); a role holding none
    is refused and audited as ``Require(permissions[0])`` refuses.
    """

    def __init__(self, first: str, *others: str) -> None:
        super().__init__(first)
        for p in others:
            Require(p)  # an undeclared permission is a programming error
        self.permissions = (first, *others)

    async def __call__(self, request: Request) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is not None:
            for p in self.permissions:
                if permitted(principal, p):
                    return await Require(p)(request)
        return await super().__call__(request)


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    import hmac

    if not sent or not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise Forbidden("The form has expired or did not come from this site; reload and retry.")


# ---- person scope --------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Why a user may open a person's record."""

    reason: str
    break_glass_grant: int | None = None


ScopeProvider = Callable[[AsyncSession, Principal, int], Awaitable[Scope | None]]
_providers: list[ScopeProvider] = []


def scope_provider(fn: ScopeProvider) -> ScopeProvider:
    """Domains register how a facility comes to hold a person (attachment, referral, ...)."""
    if fn not in _providers:
        _providers.append(fn)
    return fn


#: (session, principal, person ids) -> the scope of each id the provider grants (others left out)
BulkScopeProvider = Callable[[AsyncSession, Principal, list[int]], Awaitable[dict[int, Scope]]]
_bulk_providers: dict[ScopeProvider, BulkScopeProvider] = {}


def bulk_scope_provider(
    single: ScopeProvider,
) -> Callable[[BulkScopeProvider], BulkScopeProvider]:
    """Register the set-wise form of the provider ``single``: for many people at once, the
    same answers ``single`` gives one by one (``person_scopes`` uses it)."""

    def register(fn: BulkScopeProvider) -> BulkScopeProvider:
        _bulk_providers[single] = fn
        return fn

    return register


#: (session, the citizen's person id, the person asked for) -> why she may, or None
CitizenScopeProvider = Callable[[AsyncSession, int, int], Awaitable[str | None]]
_citizen_providers: list[CitizenScopeProvider] = []


def citizen_scope_provider(fn: CitizenScopeProvider) -> CitizenScopeProvider:
    """Domains register whom a citizen may see besides herself (her young children, ...)."""
    if fn not in _citizen_providers:
        _citizen_providers.append(fn)
    return fn


async def person_scope(session: AsyncSession, principal: Principal, person_id: int) -> Scope | None:
    if principal.role == Role.citizen:
        if principal.person_id is None:
            return None
        if principal.person_id == person_id:
            return Scope("self")
        for provider in _citizen_providers:
            reason = await provider(session, principal.person_id, person_id)
            if reason is not None:
                return Scope(reason)
        return None
    role = Role(principal.role)
    if role in NATIONAL_PERSON_SCOPE:
        return Scope("national-registry")
    found: Scope | None = None
    for provider in _providers:
        scope = await provider(session, principal, person_id)
        if scope is None:
            continue
        if scope.break_glass_grant is None:
            return scope
        found = found or scope
    return found


async def person_scopes(
    session: AsyncSession, principal: Principal, person_ids: list[int]
) -> dict[int, Scope]:
    """``person_scope`` of many people at once, the same answer for each (people out of
    scope are left out): every provider is asked once for all the people it has not yet
    given a scope without a grant, set-wise where it registered a ``bulk_scope_provider``
    (a provider without one is still asked person by person). A worklist's statements
    then do not grow with its length."""
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return {}
    if principal.role == Role.citizen:
        out: dict[int, Scope] = {}
        for pid in ids:
            scope = await person_scope(session, principal, pid)
            if scope is not None:
                out[pid] = scope
        return out
    if Role(principal.role) in NATIONAL_PERSON_SCOPE:
        return dict.fromkeys(ids, Scope("national-registry"))
    final: dict[int, Scope] = {}
    granted: dict[int, Scope] = {}  # break-the-glass: only if no provider gives better
    pending = ids
    for provider in _providers:
        if not pending:
            break
        bulk = _bulk_providers.get(provider)
        if bulk is not None:
            found = await bulk(session, principal, pending)
        else:
            found = {}
            for pid in pending:
                scope = await provider(session, principal, pid)
                if scope is not None:
                    found[pid] = scope
        for pid in pending:
            scope = found.get(pid)
            if scope is None:
                continue
            if scope.break_glass_grant is None:
                final[pid] = scope
            else:
                granted.setdefault(pid, scope)
        pending = [pid for pid in pending if pid not in final]
    for pid in pending:
        if pid in granted:
            final[pid] = granted[pid]
    return {pid: final[pid] for pid in ids if pid in final}


async def require_person(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    action: str,
    resource_type: str = "Patient",
    purpose: str | None = None,
) -> Scope:
    """Scope check plus audit: allowed reads are logged, denials logged and answered 404."""
    from salomat.core import audit

    scope = await person_scope(session, principal, person_id)
    if scope is None:
        await audit.denied(
            session,
            principal,
            resource_type=resource_type,
            resource_id=str(person_id),
            patient_id=person_id,
            detail="outside the user's scope",
        )
        raise NotFound(f"{resource_type} {person_id} not found.")
    await audit.record(
        session,
        principal,
        action=action,
        resource_type=resource_type,
        resource_id=str(person_id),
        patient_id=person_id,
        purpose=purpose or scope.reason,
        break_glass_grant=scope.break_glass_grant,
    )
    return scope
