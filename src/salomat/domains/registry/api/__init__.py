"""Registry REST routes; ``routers`` is what ``main`` mounts."""

from salomat.domains.registry.api import (
    duplicates,
    facilities,
    people,
    practitioners,
    territory,
)

routers = [facilities.api, people.api, practitioners.api, territory.api, duplicates.api]
