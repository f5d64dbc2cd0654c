"""``make bench BENCH_ARGS=--profile``: where the server's time goes under the bench's load.

During the measured window of a profiled scenario (``bench/api.py``: register a person,
read a person, FHIR Patient create and read), ``py-spy record`` samples the server
process (``--pid``, with ``--subprocesses`` for ``--workers`` > 1) at 100 Hz and writes
its raw stacks (``--format raw --full-filenames --threads``) under ``bench/results/
profiles/``. The server's CPU time over the same window is read from ``/proc``: the
rest of the window the event loop was waiting (the database, the network, the other
processes on the machine's cores).

Each CPU sample is put in one category by walking its stack from the innermost frame
outwards: the first frame whose module has a category decides (``CATEGORIES``, in
order); generic standard-library and helper modules (``TRANSPARENT``: ``copy``,
``typing``, ``functools``, ``sqlalchemy.util``...) pass the sample on to their caller,
so the deep copies made by ``salomat.country.pack`` count as configuration, not as
``copy``. This is *self* time by owner: what each layer spends in its own code and in
the generic helpers it calls, not in the layers below it.

Nothing here changes the server: py-spy reads its memory from outside. A py-spy that
cannot attach (no ptrace) leaves the figures unprofiled and says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RATE = 100  # samples per second

SERVER = "server and event loop (uvicorn, uvloop, asyncio)"
#: (category, module prefixes): the first category whose prefix matches a frame's module
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("JSON (json, orjson)", ("json", "orjson", "salomat.core.json_text")),
    (
        "validation and serialisation (pydantic)",
        ("pydantic", "pydantic_core", "annotated_types", "fastapi.encoders", "email_validator"),
    ),
    ("FHIR models (fhir.resources)", ("fhir.resources", "fhir_core", "fhir")),
    ("ORM (sqlalchemy.orm)", ("sqlalchemy.orm",)),
    ("SQL statements and compilation (sqlalchemy.sql)", ("sqlalchemy.sql",)),
    (
        "engine, pool, dialect (sqlalchemy.engine, .pool, .dialects, .ext.asyncio)",
        ("sqlalchemy",),
    ),
    ("driver (psycopg)", ("psycopg", "psycopg_pool", "psycopg_binary")),
    ("audit (salomat.core.audit)", ("salomat.core.audit", "salomat.core.audit_chain")),
    (
        "authentication and access (sessions, tokens, policy)",
        (
            "salomat.domains.accounts",
            "salomat.core.security",
            "salomat.core.policy",
            "salomat.core.scopes",
            "jwt",
            "argon2",
        ),
    ),
    (
        "configuration (salomat.country.pack, settings)",
        ("salomat.country.pack", "salomat.core.config", "yaml", "pydantic_settings"),
    ),
    (
        "duplicate-candidate scoring (rapidfuzz, registry MPI)",
        (
            "rapidfuzz",
            "jellyfish",
            "salomat.domains.registry.service.duplicates",
            "salomat.domains.registry.service.mpi_queries",
            "salomat.domains.registry.service.linkage",
        ),
    ),
    (
        "routing and middleware (starlette, fastapi, salomat middleware)",
        (
            "starlette",
            "fastapi",
            "anyio",
            "multipart",
            "python_multipart",
            "salomat.core.middleware",
            "salomat.core.context",
            "salomat.core.i18n",
            "babel",
        ),
    ),
    ("logging", ("logging", "salomat.core.logging")),
    (
        SERVER,
        ("uvicorn", "uvloop", "asyncio", "httptools", "h11", "selectors", "socket", "ssl"),
    ),
    ("salomat: other application code (services, API, FHIR mapping)", ("salomat",)),
]
OTHER = "other"
#: generic modules whose time belongs to whoever called them
TRANSPARENT = (
    "copy",
    "typing",
    "typing_extensions",
    "abc",
    "functools",
    "enum",
    "contextlib",
    "contextvars",
    "dataclasses",
    "weakref",
    "collections",
    "_collections_abc",
    "operator",
    "itertools",
    "re",
    "sre_compile",
    "sre_parse",
    "inspect",
    "types",
    "datetime",
    "_strptime",
    "decimal",
    "_pydecimal",
    "uuid",
    "warnings",
    "threading",
    "greenlet",
    "sqlalchemy.util",
    "sqlalchemy.event",
    "sqlalchemy.cyextension",
)
#: the order of the breakdown's lines: the issue's names for them
ORDER = [c for c, _ in CATEGORIES] + [OTHER]

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")
_SITE = re.compile(r".*/(?:site|dist)-packages/")
_STDLIB = re.compile(r".*/lib/python3\.\d+/")
_SRC = re.compile(r".*/src/")


def module_of(path: str) -> str:
    """``/…/site-packages/sqlalchemy/orm/session.py`` -> ``sqlalchemy.orm.session``."""
    if path.startswith("<frozen "):
        return path.removeprefix("<frozen ").rstrip(">")
    for pattern in (_SITE, _SRC, _STDLIB):
        m = pattern.match(path)
        if m:
            rel = path[m.end() :]
            break
    else:
        return path
    rel = rel.removesuffix(".py").removesuffix("/__init__")
    return rel.replace("/", ".")


def _matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def category_of(stack: list[tuple[str, str]]) -> str:
    """The category of one sample: ``stack`` is (function, module), outermost first."""
    for func, module in reversed(stack):
        if _matches(module, TRANSPARENT):
            continue
        if module.endswith("responses") and "render" in func:
            return CATEGORIES[0][0]  # a response's render is its JSON encoding (orjson is C)
        for name, prefixes in CATEGORIES:
            if _matches(module, prefixes):
                return name
        return OTHER
    return OTHER


@dataclass
class Breakdown:
    """The CPU samples of one profiled window, by category, with the process's CPU time."""

    samples: Counter[str] = field(default_factory=Counter)
    #: the innermost non-transparent frames, for reading a category's detail
    top_frames: Counter[str] = field(default_factory=Counter)
    total: int = 0
    seconds: float = 0.0
    cpu_seconds: float | None = None
    processes: int = 1
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        share = {c: round(self.samples[c] / self.total, 4) if self.total else 0.0 for c in ORDER}
        return {
            "samples": self.total,
            "window_s": round(self.seconds, 2),
            "server_cpu_s": None if self.cpu_seconds is None else round(self.cpu_seconds, 2),
            "processes": self.processes,
            "share_of_cpu": share,
            "top_frames": dict(self.top_frames.most_common(25)),
            **({"error": self.error} if self.error else {}),
        }


def parse_raw(text: str) -> Breakdown:
    """py-spy's ``--format raw --full-filenames --threads`` output, bucketed."""
    out = Breakdown()
    for line in text.splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        n = int(count)
        stack: list[tuple[str, str]] = []
        for part in head.split(";"):
            if part.startswith(("process ", "thread (")):
                continue
            m = _FRAME.match(part)
            if m:
                stack.append((m["func"], module_of(m["file"])))
        # no Python frame: the event loop's own C code (uvloop) between callbacks
        name = category_of(stack) if stack else SERVER
        out.samples[name] += n
        out.total += n
        inner = next(
            (f"{mod}:{func}" for func, mod in reversed(stack) if not _matches(mod, TRANSPARENT)),
            "(no frame)",
        )
        out.top_frames[inner] += n
    return out


def _cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        todo += [int(c) for c in children]
    return out


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class WindowProfile:
    """Start with the load generator: sleeps through the warm-up, then records ``duration``
    seconds of ``pid`` (and its worker processes) into ``out`` (raw stacks)."""

    def __init__(self, pid: int, warmup: float, duration: float, out: Path) -> None:
        self.pid, self.warmup, self.duration, self.out = pid, warmup, duration, out
        self.result = Breakdown(seconds=duration)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> WindowProfile:
        self._thread.start()
        return self

    def _run(self) -> None:
        exe = py_spy()
        if exe is None:
            self.result.error = "py-spy is not installed (pip install -e '.[bench]')"
            return
        time.sleep(self.warmup)
        pids = _family(self.pid)
        cpu0 = _cpu_seconds(pids)
        started = time.perf_counter()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            exe, "record", "--pid", str(self.pid), "--rate", str(RATE),
            "--duration", str(max(1, round(self.duration))), "--format", "raw",
            "--full-filenames", "--threads", "--subprocesses", "--output", str(self.out),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        cpu1 = _cpu_seconds(pids)
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not self.out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            self.result.error = f"py-spy could not record: {tail[0]}"
            return
        parsed = parse_raw(self.out.read_text(errors="replace"))
        parsed.seconds = elapsed
        parsed.cpu_seconds = cpu1 - cpu0
        parsed.processes = max(1, len(pids) - (1 if len(pids) > 1 else 0))
        self.result = parsed

    def join(self) -> dict[str, Any]:
        self._thread.join()
        return self.result.as_dict()


def markdown(profiles: dict[str, dict[str, Any]]) -> list[str]:
    """The breakdown table: one column per profiled scenario, shares of CPU samples."""
    if not profiles:
        return []
    names = list(profiles)
    lines = [
        "## Profile: the server's CPU by layer (py-spy, self time by owner)",
        "",
        "Share of the server's CPU samples in the measured window of each scenario "
        "(100 Hz). `server CPU` is the server's CPU seconds over the window (over 1.0 × the "
        "window only with several workers); the rest of the window its event loop waited "
        "for the database, the network or a core. Categories: bench/profile.py.",
        "",
        "| category | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for cat in ORDER:
        cells = []
        for n in names:
            share = profiles[n].get("share_of_cpu", {}).get(cat)
            cells.append("" if share is None else f"{share * 100:.1f} %")
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        p = profiles[n]
        if p.get("error"):
            cells.append(p["error"])
        elif p.get("server_cpu_s") is not None:
            cells.append(f"{p['server_cpu_s']:.1f} s of {p['window_s']:.1f} s")
        else:
            cells.append("")
    lines.append("| server CPU | " + " | ".join(cells) + " |")
    lines.append("| samples | " + " | ".join(str(profiles[n].get("samples", 0)) for n in names))
    lines[-1] += " |"
    lines.append("")
    return lines
