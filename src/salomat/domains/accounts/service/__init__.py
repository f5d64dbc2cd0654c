"""Accounts use cases, one module each; import names from here.

Each module lists its public functions in ``__all__``.
"""

from salomat.domains.accounts.service.access_log import *  # noqa: F403
from salomat.domains.accounts.service.audit_review import *  # noqa: F403
from salomat.domains.accounts.service.break_glass import *  # noqa: F403
from salomat.domains.accounts.service.sessions import *  # noqa: F403
from salomat.domains.accounts.service.users import *  # noqa: F403
