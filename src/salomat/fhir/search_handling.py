"""``Prefer: handling=lenient | strict`` of a FHIR search (R4 search, "Handling errors"):
strict (the default) refuses a parameter the server does not know or support, naming
it; lenient leaves it out of the search and says so in an OperationOutcome entry of the
Bundle (``search.mode`` outcome). Which searches honour it: docs/fhir.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from salomat.core import i18n
from salomat.core.errors import N_

__all__ = ["ignored_entry", "lenient", "split_known", "with_ignored"]


def lenient(header: str | None) -> bool:
    """Whether a ``Prefer`` header asks ``handling=lenient`` (RFC 7240: preferences
    separated by commas, parameters by semicolons; the last handling given counts)."""
    found = False
    for part in (header or "").replace(";", ",").split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "handling":
            found = value.strip().strip('"').lower() == "lenient"
    return found


def split_known(
    items: list[tuple[str, str]], known: Callable[[str], bool]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(the items whose name is ``known``, the names of the others, each once)."""
    kept = [(k, v) for k, v in items if known(k)]
    ignored = list(dict.fromkeys(k for k, _ in items if not known(k)))
    return kept, ignored


def ignored_entry(ignored: list[str]) -> dict[str, Any]:
    """The Bundle entry saying which parameters a lenient search left out."""
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "warning",
                    "code": "not-supported",
                    "diagnostics": i18n.gettext(
                        N_("Parameter %(name)s is not supported here and was ignored.")
                    )
                    % {"name": name},
                    "expression": [name],
                }
                for name in ignored
            ],
        },
        "search": {"mode": "outcome"},
    }


def with_ignored(bundle: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
    """``bundle`` with the outcome entry first when anything was ignored."""
    if ignored:
        bundle["entry"] = [ignored_entry(ignored), *bundle.get("entry", [])]
    return bundle
