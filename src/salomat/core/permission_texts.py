"""What each permission lets a role do, in words a person reads (the 403 message).

``Require`` refuses with "Your role (<role>) may not do this: <what>" in the page's
language; ``what`` is the permission's text below, the role its catalog name. Every
permission in ``core.policy.PERMISSIONS`` has a text (a test walks them). The API keeps
the codes as machine-readable members of the problem (``role``, ``permission``).
"""

from __future__ import annotations

from salomat.core import i18n
from salomat.core.i18n import N_

PERMISSION_TEXTS: dict[str, str] = {
    "session:self": N_("use your own account"),
    "user:manage": N_("manage user accounts"),
    "user:read": N_("view user accounts"),
    "audit:read": N_("view the audit trail"),
    "audit:self": N_("view who opened your own record"),
    "facility:read": N_("view the facility registry"),
    "facility:manage": N_("manage the facility registry"),
    "territory:read": N_("view the territory registry"),
    "territory:manage": N_("manage the territory registry"),
    "practitioner:read": N_("view the health worker registry"),
    "practitioner:manage": N_("manage the health worker registry"),
    "person:create": N_("register a person"),
    "person:read": N_("view personal records"),
    "person:search": N_("search the population register"),
    "person:update": N_("change personal records"),
    "person:death": N_("record a death"),
    "person:merge": N_("merge duplicate records"),
    "person:relate": N_("record family relations"),
    "break_glass:request": N_("request emergency access"),
    "death_certificate:read": N_("view death certificates"),
    "death_certificate:certify": N_("certify the cause of a death"),
    "death_certificate:review": N_("review the underlying cause of death"),
    "pregnancy:read": N_("view pregnancy records"),
    "pregnancy:register": N_("register or close a pregnancy"),
    "pregnancy:contact": N_("record antenatal contacts"),
    "pregnancy:diagnose": N_("resolve a pregnancy diagnosis"),
    "referral:send": N_("send referrals"),
    "referral:read": N_("view referrals"),
    "referral:receive": N_("accept and answer referrals"),
    "worklist:read": N_("view the antenatal worklist"),
    "pregnancy:portal": N_("view your own pregnancy record"),
    "maternal_dashboard:read": N_("view the maternal health dashboard"),
    "immunization:read": N_("view vaccination records"),
    "immunization:record": N_("record vaccinations"),
    "immunization:worklist": N_("view the vaccination worklist"),
    "immunization:portal": N_("see whether your own revaccination is due"),
    "immunization:coverage": N_("view vaccination coverage"),
    "child:read": N_("view child health passports"),
    "child:record": N_("record child health data"),
    "child:portal": N_("view your own children"),
    "formulary:read": N_("view the formulary"),
    "formulary:manage": N_("manage the formulary"),
    "prescription:write": N_("write prescriptions"),
    "prescription:read": N_("view prescriptions"),
    "prescription:dispense": N_("dispense prescriptions"),
    "claim:read": N_("view reimbursement claims"),
    "claim:review": N_("review reimbursement claims"),
    "prescription:portal": N_("view your own prescriptions"),
    "sick_leave:read": N_("view sick-leave certificates"),
    "sick_leave:issue": N_("issue and extend sick-leave certificates"),
    "sick_leave:vkk": N_("record medical advisory commission decisions"),
    "sick_leave:portal": N_("view your own sick-leave certificates"),
    "sick_leave:employer": N_("check your employees' sick-leave certificates"),
    "sick_leave:analytics": N_("view sick-leave statistics"),
    "sanatorium:refer": N_("refer patients to a sanatorium"),
    "sanatorium:read": N_("view sanatorium referrals"),
    "sanatorium:queue": N_("correct a sanatorium queue entry's category"),
    "sanatorium:manage": N_("publish a sanatorium's beds and arrival periods"),
    "sanatorium:admit": N_("admit and discharge sanatorium guests"),
    "sanatorium:portal": N_("apply for sanatorium treatment and answer offers"),
    "sanatorium:dashboard": N_("view sanatorium queue statistics"),
    "cancer:notify": N_("notify a cancer to the cancer registry"),
    "cancer:read": N_("view cancer registry records"),
    "cancer:register": N_("decide on cancer registry notifications"),
    "cancer:follow_up": N_("follow up cancer patients"),
    "cancer:statistics": N_("view cancer statistics"),
    "insurance:manage": N_("take in contributions and keep the insurance fund's lists"),
    "insurance:eligibility": N_("check a person's health-insurance status"),
    "insurance:claim": N_("claim services from the insurance fund"),
    "insurance:claim_read": N_("view insurance claims and settlements"),
    "insurance:review": N_("review flagged claim lines"),
    "insurance:dashboard": N_("view the insurance fund's dashboards"),
    "insurance:portal": N_("view your own health insurance"),
    "record:read": N_("view the shared health record"),
    "record:write": N_("send records to the shared health record"),
    "record:naming": N_("register identifier systems of other information systems"),
    "bulk:export": N_("export a population's records in bulk"),
    "jobs:read": N_("view the background jobs"),
    "statistics:read": N_("view national health indicators"),
    "statistics:compute": N_("recompute national health indicators"),
    "screening:read": N_("view screening and disease-management records"),
    "screening:record": N_("record screenings and follow-up visits"),
    "screening:enrol": N_("enrol patients in disease-management programmes"),
    "screening:worklist": N_("view the screening worklists"),
    "screening:portal": N_("view your own screenings due"),
    "screening:coverage": N_("view screening target groups and coverage"),
    "planning:read": N_("view the primary-care network plan: settlements, norms, gaps, staffing"),
    "planning:edit": N_("import census figures and save network planning scenarios"),
    "planning:mobile": N_("record the visits of a mobile medical team"),
    "epidemic:report": N_("notify cases of notifiable diseases"),
    "epidemic:capacity": N_("register hospital beds and report their daily occupancy"),
    "epidemic:read": N_("view daily case counts and hospital capacity"),
    "epidemic:cases": N_("read case notifications of notifiable diseases"),
    "client:manage": N_("register the information systems that connect to the platform"),
    "subscription:manage": N_("subscribe another information system to changes"),
    "subscription:admin": N_("view every subscription and its deliveries"),
    "terminology:read": N_("read the national code systems and profiles"),
    "employer:read": N_("view the employer registry"),
    "employer:manage": N_("manage the employer registry"),
}


class Label:
    """A text translated when it is shown (a 403's parameters are formatted in the
    language of the page or of the API caller, not of the moment it was raised)."""

    __slots__ = ("msgid", "words")

    def __init__(self, msgid: str, *, words: bool = False) -> None:
        self.msgid = msgid
        #: a code read as words in English (the role msgids are the codes themselves)
        self.words = words

    def __str__(self) -> str:
        text = i18n.gettext(self.msgid)
        return text.replace("_", " ") if self.words else text

    def __repr__(self) -> str:
        return f"Label({self.msgid!r})"


def role_text(role: str) -> Label:
    """The role's name in the current language when shown ("family doctor" in English)."""
    return Label(role, words=True)


def permission_text(permission: str) -> Label:
    """What the permission lets one do, in the current language when shown."""
    return Label(PERMISSION_TEXTS.get(permission, permission))
