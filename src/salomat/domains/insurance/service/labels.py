"""The words for the insurance fund's codes (msgids, translated where they are shown).

A code is stored and sent as is (``employer``, ``contribution``, ``flagged``); a page
shows its label in the page's language. The packages' and protected categories' names
are the pack's own (``<CC>/insurance.yaml``, several languages): ``package_name`` and
``category_name`` pick the current language's.

Other slices add their labels here in blocks of their own.
"""

from __future__ import annotations

from salomat.core import i18n
from salomat.core.errors import N_
from salomat.domains.insurance.service.rules import insurance_rules

__all__ = [
    "BASIS_LABELS",
    "CLAIM_STATUS_LABELS",
    "CONTRIBUTION_KIND_LABELS",
    "CONTROL_RULE_LABELS",
    "LINE_STATUS_LABELS",
    "PAYER_KIND_LABELS",
    "SERVICE_KIND_LABELS",
    "category_name",
    "label",
    "package_name",
    "payer_name",
    "service_name",
]

#: ``Payer.kind``
PAYER_KIND_LABELS = {
    "employer": N_("employer"),
    "entrepreneur": N_("individual entrepreneur"),
    "independent": N_("independent payer"),
    "self_employed": N_("platform self-employed"),
    "state": N_("the state"),
    "aggregate": N_("single aggregate payment"),
}

#: ``Contribution.kind``: what a contribution line is
CONTRIBUTION_KIND_LABELS = {
    "employer": N_("employer's contribution"),
    "employee": N_("employee's contribution"),
    "entrepreneur": N_("entrepreneur's contribution"),
    "independent": N_("independent payer's contribution"),
    "self_employed": N_("self-employed person's contribution"),
    "state": N_("state contribution for a protected category"),
    "aggregate": N_("single aggregate payment"),
}

#: ``coverage.Status.basis``: why a person is (or is not) insured on a day
BASIS_LABELS = {
    "contribution": N_("contributions paid"),
    "category": N_("protected category (paid by the state)"),
    "universal": N_("every resident is covered"),
    "none": N_("not insured"),
    "deceased": N_("deceased"),
}

#: ``ServiceClaim.status``
CLAIM_STATUS_LABELS = {
    "submitted": N_("submitted"),
    "settled": N_("settled"),
}

#: ``ClaimLine.status``
LINE_STATUS_LABELS = {
    "entered": N_("entered"),
    "flagged": N_("flagged"),
    "accepted": N_("accepted"),
    "reduced": N_("reduced"),
    "rejected": N_("rejected"),
}

#: the pack's spending-control rules (``control`` in ``<CC>/insurance.yaml``)
CONTROL_RULE_LABELS = {
    "after_death": N_("service after the registered death"),
    "uninsured": N_("insurance-package service to an uninsured person"),
    "duplicate": N_("duplicate claim (same person, service and day)"),
    "sex_age": N_("service impossible for the person's sex or age"),
    "volume_outlier": N_("provider's volume far above its peers"),
    "many_providers": N_("person claimed at many providers on one day"),
}

#: ``insurance_services.csv`` ``kind``
SERVICE_KIND_LABELS = {
    "primary_care": N_("primary care"),
    "emergency": N_("emergency care"),
    "hospital": N_("hospital care"),
    "diagnostic": N_("diagnostics"),
    "specialist": N_("specialist consultation"),
}


def label(labels: dict[str, str], code: str | None) -> str:
    """A code's label in the current language; an unknown code is shown as it is."""
    if code is None:
        return ""
    found = labels.get(code)
    return i18n.gettext(found) if found is not None else code


#: payer kinds of one payer each (the fund's own ``STATE`` and ``AGGREGATE``): their
#: stored names are English words, so a page names them by the kind's label
_KIND_NAMED = frozenset({"state", "aggregate"})


def payer_name(kind: str, name: str) -> str:
    """A payer's name as shown: the stored name of an employer or a person, the kind's
    label in the current language for the state and the single aggregate payer."""
    return label(PAYER_KIND_LABELS, kind) if kind in _KIND_NAMED else name


def _pick(names: dict[str, str], fallback: str) -> str:
    """The current language's name, else Russian, then English, then any."""
    lang = i18n.current_language()
    for key in (lang, "ru", "en"):
        if names.get(key):
            return names[key]
    return next(iter(names.values()), fallback)


def package_name(code: str | None) -> str:
    """The pack's name of a benefit package in the current language."""
    if code is None:
        return ""
    pkg = insurance_rules().packages.get(code)
    if not pkg:
        return code
    return _pick(dict(pkg.get("name") or {}), code)


def category_name(code: str | None) -> str:
    """The pack's name of a protected category in the current language."""
    if code is None:
        return ""
    cat = insurance_rules().categories.get(code)
    return _pick(cat.names, code) if cat is not None else code


def service_name(code: str | None) -> str:
    """The pack's name of a service (``insurance_services.csv``) in the current language."""
    if code is None:
        return ""
    s = insurance_rules().services.get(code)
    return _pick(s.names, code) if s is not None else code
