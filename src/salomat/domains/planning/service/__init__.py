"""Planning the primary-care network: settlements and their population, the unit a
settlement needs under each norm edition, access to the nearest unit, staffing posts
against filled FTE, and the routes of mobile medical teams (docs/planning.md).

``norms`` (the pack and its pure rules) is pure; ``settlements`` reads the settlements
with their census figure and attached count set-wise; ``gaps`` and ``staffing`` aggregate
by district.
"""

from salomat.domains.planning.service.norms import (
    Band,
    BandError,
    NormEdition,
    PlanningPack,
    StaffingEdition,
    Unit,
    edition,
    fte_needed,
    load_editions,
    planning_pack,
    posts_needed,
    required_unit,
    validate_bands,
)

__all__ = [
    "Band",
    "BandError",
    "NormEdition",
    "PlanningPack",
    "StaffingEdition",
    "Unit",
    "edition",
    "fte_needed",
    "load_editions",
    "planning_pack",
    "posts_needed",
    "required_unit",
    "validate_bands",
]
