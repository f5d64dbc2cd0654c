"""The registrar's pages: find, register, edit and review people; the facility list; the
administrator's employer list; a facility's staff.

Forms post as plain HTML (they work without JavaScript); the search also
answers htmx, which swaps the search section in place. A refused form is
shown again with each message next to its field and a 4xx status, so the
unit of work rolls back and nothing is stored.
"""

from salomat.domains.registry.web import (  # noqa: F401
    death_certificates,
    duplicates,
    edit,
    employers,
    patients,
    staff,
)
from salomat.domains.registry.web._common import web

__all__ = ["web"]
