"""Use cases of e-prescriptions; import names from here.

``formulary``: the formulary import and the pack's rules; ``prescribing``: the
doctor's prescriptions. Each module lists its public names in ``__all__``.
"""

from salomat.domains.prescription.service.bulk_reads import *  # noqa: F403
from salomat.domains.prescription.service.by_class import *  # noqa: F403
from salomat.domains.prescription.service.claim_review import *  # noqa: F403
from salomat.domains.prescription.service.claims import *  # noqa: F403
from salomat.domains.prescription.service.demo import *  # noqa: F403
from salomat.domains.prescription.service.dispensing import *  # noqa: F403
from salomat.domains.prescription.service.formulary import *  # noqa: F403
from salomat.domains.prescription.service.portal import *  # noqa: F403
from salomat.domains.prescription.service.prescribing import *  # noqa: F403
from salomat.domains.prescription.service.synth import *  # noqa: F403
