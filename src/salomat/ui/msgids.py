"""Strings that reach templates as data (roles, audit actions, error titles, nav labels).

Templates translate them with ``_(value)``; listing them here with the no-op
``N_`` marker is what lets ``pybabel extract`` put them in the catalog. Nothing
imports this module at run time. Only fixed strings belong here: a template
must never pass user input to ``_()`` (Jinja marks its result safe).
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


ROLES = (
    N_("admin"),
    N_("auditor"),
    N_("registrar"),
    N_("nurse"),
    N_("family_doctor"),
    N_("obstetrician"),
    N_("pharmacist"),
    N_("sanatorium_admin"),
    N_("oncologist"),
    N_("cancer_registrar"),
    N_("insurance_analyst"),
    N_("analyst"),
    N_("epidemiologist"),
    N_("citizen"),
    N_("employer"),
    N_("statistician"),
    N_("mortality_coder"),
    N_("planner"),
)

AUDIT_ACTIONS = (
    N_("create"),
    N_("read"),
    N_("update"),
    N_("delete"),
    N_("search"),
    N_("login"),
    N_("logout"),
    N_("denied"),
)

#: Why a record was opened, as the access policy writes it in the audit trail.
AUDIT_PURPOSES = (
    N_("registration"),
    N_("audit review"),
    N_("self"),
    N_("national-registry"),
    N_("attached to the user's facility"),
)

#: ``SalomatError.title`` of each class in ``core.errors`` and of its HTTP fallbacks.
ERROR_TITLES = (
    N_("Bad request"),
    N_("Invalid input"),
    N_("Not found"),
    N_("Conflict"),
    N_("Invalid state"),
    N_("Forbidden"),
    N_("Authentication required"),
    N_("Too many requests"),
    N_("Precondition failed"),
    N_("Payload too large"),
    N_("Method not allowed"),
    N_("Internal error"),
)

#: Messages the login page shows (``accounts.service`` and ``accounts.web``).
LOGIN_MESSAGES = (
    N_("Wrong username or password."),
    N_("Too many failed logins; wait before trying again."),
    N_("The login form expired; reload the page and try again."),
    N_("Your session has ended; log in again."),
)

#: Navigation labels registered with ``register_nav``.
NAV_LABELS = (
    N_("Start"),
    N_("Who opened my record"),
    N_("Users"),
)
