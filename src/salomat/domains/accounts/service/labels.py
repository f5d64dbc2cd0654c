"""Labels for what the audit trail records as codes: actions, outcomes, roles, record
types and the reasons the platform writes, in the current language.

The audit trail keeps codes and the platform's own English reasons (``purpose``);
pages show them through these functions, never raw. The lists below mark the
msgids for ``pybabel extract`` (``N_``). A reason a person typed (a
break-the-glass reason) is shown as typed; the row's flag says it was emergency access.
"""

from __future__ import annotations

import re

from salomat.core.audit import ACTIONS
from salomat.core.i18n import N_, gettext
from salomat.core.policy import Role

__all__ = [
    "OUTCOMES",
    "RESOURCE_TYPES",
    "SCOPE_REASONS",
    "SHARED_RECORD_KINDS",
    "action_label",
    "outcome_label",
    "purpose_label",
    "resource_label",
    "role_label",
]


#: the audit actions; their msgids ("read", "denied", ...) are in ui.msgids
_ACTIONS = frozenset(ACTIONS)

OUTCOMES: dict[str, str] = {
    "success": N_("allowed"),
    "failure": N_("refused"),
}

#: what a row is about (``resource_type``): FHIR names, and a permission's prefix on a
#: refusal by role
RESOURCE_TYPES: dict[str, str] = {
    "Patient": N_("Personal record"),
    "RelatedPerson": N_("Family relation"),
    "DuplicatePair": N_("Possible duplicate records"),
    "EpisodeOfCare": N_("Pregnancy"),
    "Encounter": N_("Antenatal contact"),
    "Condition": N_("Diagnosis"),
    "Procedure": N_("Birth"),
    "ServiceRequest": N_("Referral"),
    "DetectedIssue": N_("Clinical warning"),
    "Observation": N_("Growth measurement"),
    "Immunization": N_("Vaccination"),
    "ImmunizationCoverage": N_("Vaccination coverage"),
    "MaternalDashboard": N_("Maternal health dashboard"),
    "MedicationRequest": N_("Prescription"),
    "SickLeave": N_("Sick-leave certificate"),
    "SickLeaveAnalytics": N_("Sick-leave statistics"),
    "SanatoriumReferral": N_("Sanatorium referral"),
    "SanatoriumStay": N_("Sanatorium stay"),
    "MedicationDispense": N_("Dispensing"),
    "Claim": N_("Reimbursement claim"),
    "Organization": N_("Facility"),
    "Location": N_("Territory"),
    "Practitioner": N_("Health worker"),
    "PractitionerRole": N_("Health worker's post"),
    "Session": N_("Login session"),
    "User": N_("User account"),
    "ClientSystem": N_("Client system"),
    "BreakGlass": N_("Emergency access"),
    "AuditEvent": N_("Audit trail"),
    "AccessLog": N_("Who opened my record"),
    # only the shared health record writes these (see SHARED_RECORD_KINDS)
    "AllergyIntolerance": N_("Allergy"),
    "DiagnosticReport": N_("Report"),
    "DocumentReference": N_("Document"),
    "NamingSystem": N_("Identifier system"),
    # the cancer registry's, the sanatorium's and the insurance fund's own rows
    "CancerRegistryExport": N_("Cancer registry export"),
    "CancerStatistics": N_("Cancer statistics"),
    "SanatoriumDashboard": N_("Sanatorium dashboard"),
    "Coverage": N_("Insurance coverage"),
    "InsurancePayer": N_("Insurance payer"),
    "InsuranceCategory": N_("Insurance category"),
    "InsuranceEmployment": N_("Insured employment"),
    "InsuranceContribution": N_("Insurance contribution"),
    "ContributionImport": N_("Insurance payment file"),
    "Settlement": N_("Settlement with a provider"),
    "Employer": N_("Employer"),
    "Subscription": N_("Subscription of another system"),
    "DeathCertificate": N_("Death certificate"),
    "IndicatorValue": N_("Health indicator"),
    "IndicatorTrend": N_("Health indicator trend"),
    "MortalityDataQuality": N_("Quality of cause-of-death data"),
    "ScreeningIndicators": N_("Disease-management programme indicators"),
    "ScreeningCoverage": N_("Screening coverage"),
    "SettlementCensus": N_("Settlement census figure"),
    "PlanningScenario": N_("Network planning scenario"),
    "CaseNotification": N_("Notification of an infectious disease case"),
    "BedCapacity": N_("Registered hospital beds"),
    "BedOccupancy": N_("Daily hospital bed occupancy"),
    "EpidemicCounts": N_("Daily case counts"),
    # refusals by role name the permission's area
    "session": N_("Login session"),
    "user": N_("User account"),
    "client": N_("Client system"),
    "audit": N_("Audit trail"),
    "facility": N_("Facility"),
    "territory": N_("Territory"),
    "practitioner": N_("Health worker"),
    "person": N_("Personal record"),
    "break_glass": N_("Emergency access"),
    "pregnancy": N_("Pregnancy"),
    "referral": N_("Referral"),
    "worklist": N_("Worklist"),
    "maternal_dashboard": N_("Maternal health dashboard"),
    "immunization": N_("Vaccination"),
    "child": N_("Child health passport"),
    "formulary": N_("Formulary"),
    "prescription": N_("Prescription"),
    "claim": N_("Reimbursement claim"),
    "sick_leave": N_("Sick-leave certificate"),
    "employer": N_("Employer registry"),
    "sanatorium": N_("Sanatorium treatment"),
    "cancer": N_("Cancer registry"),
    "insurance": N_("Health insurance fund"),
    "record": N_("Shared health record"),
    "bulk": N_("Bulk export"),
    "jobs": N_("Background jobs"),
    "subscription": N_("Subscription of another system"),
    "terminology": N_("Code systems and profiles"),
    "death_certificate": N_("Death certificate"),
    "statistics": N_("Health indicators"),
    "screening": N_("Screening and disease management"),
    "planning": N_("Network planning"),
    "epidemic": N_("Epidemic surveillance"),
}

#: what the shared health record (domains.record) keeps, by kind: the names its own page
#: gives them. Its types are also other domains' (a pregnancy's Encounter is an antenatal
#: contact, a child's Observation a growth measurement, a Procedure a birth), so a row is
#: the record's by its id: the record's FHIR ids are "shr-<n>" (record.service.common
#: ID_PREFIX), the other domains' are numbers. The prefix is matched here as data: accounts
#: is below record in the domain graph and does not import it.
SHARED_RECORD_KINDS: dict[str, str] = {
    "Encounter": N_("Visit"),
    "Condition": N_("Diagnosis"),
    "Observation": N_("Result"),
    "Procedure": N_("Procedure"),
    "AllergyIntolerance": N_("Allergy"),
    "DiagnosticReport": N_("Report"),
    "DocumentReference": N_("Document"),
}
_SHARED_RECORD_ID = "shr-"

#: the reasons the platform itself writes (``purpose``), each translated as a whole
PURPOSES = frozenset(
    {
        N_("registration"),
        N_("audit review"),
        N_("self"),
        N_("national-registry"),
        N_("attached to the user's facility"),
        N_("aggregate monitoring"),
        N_("antenatal worklist"),
        N_("attachment"),
        N_("attachments"),
        N_("birth record"),
        N_("birth registration"),
        N_("child health passport"),
        N_("child health passport: the mother"),
        N_("citizen portal"),
        N_("citizen portal: prescriptions"),
        N_("claim submitted to the fund"),
        N_("death"),
        N_("death certificate"),
        N_("death certificate review"),
        N_("death certificate worklist"),
        N_("dispensing"),
        N_("duplicate review: distinct people"),
        N_("growth monitoring"),
        N_("history"),
        N_("immunization"),
        N_("mother's passport: her child"),
        N_("newborn record"),
        N_("nightly re-evaluation of the antenatal advice"),
        N_("obstetric record"),
        N_("pregnancy registration"),
        N_("prescriptions"),
        N_("referral to the user's facility"),
        N_("reimbursement claims (totals, no person data)"),
        N_("relation"),
        N_("relation ended"),
        N_("relations"),
        N_("resolve a standing diagnosis"),
        N_("well-child visit"),
        N_("well-child visits"),
        N_("mother of the child"),
        N_("parent"),
        N_("guardian"),
        N_("own access log"),
        N_("citizen portal: sick leave"),
        N_("employer: shared certificate"),
        N_("employer: check by number and national id"),
        N_("maternity leave"),
        N_("citizen portal: sanatorium"),
        N_("citizen portal: sanatorium application"),
        N_("citizen portal: sanatorium offer"),
        N_("citizen portal: sanatorium voucher"),
        N_("the sanatorium's own stay record"),
        # the shared health record's writes and timeline (record.service.common PURPOSE,
        # matched as data: accounts does not import the record domain)
        N_("shared health record"),
        # epidemic surveillance: a notifiable disease notified, and the notification read
        # or searched by the epidemiologist (epidemic.service.notifications)
        N_("notification"),
        N_("surveillance"),
    }
)
#: reasons written as codes, not English words: the shared health record's sender's
#: right (record.service.scope REASON; matched as data, as above): what the user's
#: facility sent to the record it may read again
SCOPE_REASONS = {"record-sender": N_("sent by the user's facility")}
#: ``open care relationship (<kind>)``: why a facility holds a person
CARE_KINDS = {
    "referral": N_("referral"),
    "admission": N_("admission"),
    "sanatorium_stay": N_("sanatorium stay"),
}
#: ``referral <status>``: a referral's step
REFERRAL_STEPS = {
    "accepted": N_("referral accepted"),
    "declined": N_("referral declined"),
    "seen": N_("referral: the woman was seen"),
    "returned": N_("referral returned with a conclusion"),
    "cancelled": N_("referral cancelled"),
}

#: a family relation's kind (registry ``RelationKind``)
RELATION_KINDS = {"mother": N_("mother"), "father": N_("father"), "guardian": N_("guardian")}
#: a claim line's decision
CLAIM_DECISIONS = {"approved": N_("claim line approved"), "rejected": N_("claim line rejected")}

_CARE = re.compile(r"^open care relationship \((\w+)\)$")
_MERGE = re.compile(r"^(un)?merge: (.*)$", re.S)
_RELATION = re.compile(r"^relation: (\w+) of Patient \d+$")
_CLAIM_LINE = re.compile(r"^claim line \d+ (\w+)$")
_REFERRAL = re.compile(r"^referral (\w+)$")
_DUPLICATE = re.compile(r"^duplicate review \((.+)\)$")
_BREAK_GLASS = "break-the-glass: "


def action_label(code: str) -> str:
    return gettext(code) if code in _ACTIONS else code


def outcome_label(code: str) -> str:
    return gettext(OUTCOMES[code]) if code in OUTCOMES else code


def role_label(code: str | None) -> str:
    """The role's name in the current language; in English the code read as words
    ("family doctor": the catalogs' msgids are the codes themselves)."""
    if not code:
        return ""
    return gettext(code).replace("_", " ") if code in Role.__members__ else code


def resource_label(code: str, resource_id: str | None = None, action: str | None = None) -> str:
    """What a row is about, in the current language. Given the row's id and action, a row
    of the shared health record is named by the record's kind ("Result"), not by what other
    domains keep under the same FHIR type ("Growth measurement")."""
    if code in SHARED_RECORD_KINDS and _shared_record(resource_id, action):
        return gettext(SHARED_RECORD_KINDS[code])
    return gettext(RESOURCE_TYPES[code]) if code in RESOURCE_TYPES else code


def _shared_record(resource_id: str | None, action: str | None) -> bool:
    """A read, write or refusal of one of the record's resources names it "shr-<n>". A
    search is audited once per person shown (the person's id): only the record searches
    Encounter, Observation and Procedure per person (the maternal and child domains audit
    their lists as reads), so a search row of these types is the record's."""
    return (resource_id or "").startswith(_SHARED_RECORD_ID) or action == "search"


def purpose_label(purpose: str | None) -> str:
    """A platform reason in the current language; a person's own words as written."""
    if not purpose:
        return ""
    if purpose in PURPOSES:
        return gettext(purpose)
    if purpose in SCOPE_REASONS:
        return gettext(SCOPE_REASONS[purpose])
    if purpose.startswith(_BREAK_GLASS):  # the row is flagged: pages show that beside it
        return purpose.removeprefix(_BREAK_GLASS)
    if m := _CARE.match(purpose):
        kind = m.group(1)
        return gettext("open care relationship: %(kind)s") % {
            "kind": gettext(CARE_KINDS[kind]) if kind in CARE_KINDS else kind
        }
    if (m := _REFERRAL.match(purpose)) and m.group(1) in REFERRAL_STEPS:
        return gettext(REFERRAL_STEPS[m.group(1)])
    if m := _MERGE.match(purpose):  # the registrar's reason, as typed, after the step
        step = gettext("merge undone") if m.group(1) else gettext("records merged")
        return f"{step}: {m.group(2)}"
    if (m := _RELATION.match(purpose)) and m.group(1) in RELATION_KINDS:
        return gettext("family relation recorded: %(kind)s") % {
            "kind": gettext(RELATION_KINDS[m.group(1)])
        }
    if (m := _CLAIM_LINE.match(purpose)) and m.group(1) in CLAIM_DECISIONS:
        return gettext(CLAIM_DECISIONS[m.group(1)])
    if m := _DUPLICATE.match(purpose):
        return gettext("duplicate review (%(why)s)") % {"why": purpose_label(m.group(1))}
    return purpose
