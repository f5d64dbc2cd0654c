"""Resources checked against the profiles a live server publishes, by the independent
validator (tests/external/node/profiles.mjs: HL7's fhirpath.js, the R4 profiling rules,
the server's StructureDefinitions and ValueSet expansions; nothing of our Python).

``check_ndjson`` is for the bulk export's tests: every NDJSON line of an export file,
checked against the profiles its ``meta.profile`` names (each must admit it), else the
published profiles of its type (one must admit it: Condition and Observation have the
pregnancy's and the shared record's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.fhir.validator import run_node


async def run(
    pairs: Iterable[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]],
    *,
    base: str,
    token: str,
) -> dict[str, Any]:
    """profiles.mjs on labelled resources (a profile url third, or None): its answer,
    ``{"definitions": {id: [problems]}, "results": {label: [problems]}}``."""
    stdin = json.dumps([list(p) for p in pairs]).encode()
    out = await run_node("profiles.mjs", "--base", base, "--token", token, stdin=stdin)
    return dict(json.loads(out))


async def check_ndjson(
    lines: Iterable[str | bytes], *, base: str, token: str
) -> list[dict[str, Any]]:
    """The problems of NDJSON lines (each with ``line``: its number from 1, ``profile``,
    ``element``, ``code``, ``message``); [] when every line conforms. ``base`` is the
    server's FHIR base (``http://host/fhir``), ``token`` a bearer token with
    ``terminology:read``."""
    text = "\n".join(
        (line.decode() if isinstance(line, bytes) else line).rstrip("\n") for line in lines
    )
    out = await run_node(
        "profiles.mjs", "--base", base, "--token", token, "--ndjson", stdin=text.encode()
    )
    results = json.loads(out)["results"]
    return [
        {"line": int(label.removeprefix("line-")), **problem}
        for label, problems in results.items()
        for problem in problems
    ]
