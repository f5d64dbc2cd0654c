"""Registry REST routes; ``routers`` is what ``main`` mounts."""

from salomat.domains.registry.api import (
    death_certificates,
    duplicates,
    employers,
    facilities,
    people,
    practitioners,
    relations,
    territory,
)

routers = [
    facilities.api,
    people.api,
    relations.api,
    practitioners.api,
    territory.api,
    duplicates.api,
    employers.api,
    death_certificates.api,
]
