"""Accounts use cases, one module each; import names from here.

Each module lists its public functions in ``__all__``.
"""

from salomat.domains.accounts.service.access_log import *  # noqa: F403
from salomat.domains.accounts.service.audit_review import *  # noqa: F403
from salomat.domains.accounts.service.break_glass import *  # noqa: F403
from salomat.domains.accounts.service.client_tokens import *  # noqa: F403
from salomat.domains.accounts.service.clients import *  # noqa: F403

# the shared health record's kinds, named once for its timeline and the access log
from salomat.domains.accounts.service.labels import SHARED_RECORD_KINDS  # noqa: F401
from salomat.domains.accounts.service.sessions import *  # noqa: F403
from salomat.domains.accounts.service.users import *  # noqa: F403
