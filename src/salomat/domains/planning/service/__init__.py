"""Planning the primary-care network: settlements and their population, the unit a
settlement needs under each norm edition, access to the nearest unit, staffing posts
against filled FTE, and the routes of mobile medical teams (docs/planning.md).

``norms`` (the pack and its pure rules) is pure; ``settlements`` reads the settlements
with their census figure and attached count set-wise; ``gaps`` and ``staffing`` aggregate
by district.
"""

from salomat.domains.planning.service.demo import load_demo_planning
from salomat.domains.planning.service.gaps import (
    DistrictGaps,
    GapReport,
    gap_report,
    gaps_by_district,
)
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
from salomat.domains.planning.service.scenarios import (
    SavedScenario,
    delete_scenario,
    get_scenario,
    list_scenarios,
    save_scenario,
)
from salomat.domains.planning.service.settlements import (
    CensusIssue,
    ImportReport,
    SettlementRow,
    import_census_csv,
    settlement_rows,
)
from salomat.domains.planning.service.staffing import StaffingLine, StaffingReport, staffing

__all__ = [
    "Band",
    "BandError",
    "CensusIssue",
    "DistrictGaps",
    "GapReport",
    "ImportReport",
    "NormEdition",
    "PlanningPack",
    "SavedScenario",
    "SettlementRow",
    "StaffingEdition",
    "StaffingLine",
    "StaffingReport",
    "Unit",
    "delete_scenario",
    "edition",
    "fte_needed",
    "gap_report",
    "gaps_by_district",
    "get_scenario",
    "import_census_csv",
    "list_scenarios",
    "load_demo_planning",
    "load_editions",
    "planning_pack",
    "posts_needed",
    "required_unit",
    "save_scenario",
    "settlement_rows",
    "staffing",
    "validate_bands",
]

# access, scenarios and mobile teams (docs/planning.md, "Access, scenarios and mobile
# medical teams"): appended by their helper. The use cases stay in their modules
# (``service.access.access``, ``service.access.scenario``): a function named ``access``
# here would hide the module of that name.
from salomat.domains.planning.service.access import (
    AccessReport,
    ProposedUnit,
    RoadGraph,
    ScenarioReport,
)
from salomat.domains.planning.service.routing import RoutePlan, plan_route, visit_calendar

__all__ += [
    "AccessReport",
    "ProposedUnit",
    "RoadGraph",
    "RoutePlan",
    "ScenarioReport",
    "plan_route",
    "visit_calendar",
]
