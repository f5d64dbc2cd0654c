"""``salomat maternal ...``: jobs of the antenatal register.

``maternal reevaluate`` re-runs the rules over every current pregnancy as of
today (a contact becomes overdue, a test falls due with time alone); run it
nightly from cron, before the working day (docs/operations.md).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from salomat.core import backup
from salomat.core.errors import PreconditionFailed
from salomat.core.uow import run_unit_of_work
from salomat.domains.maternal import service

app = typer.Typer(help="Antenatal care: the nightly re-evaluation.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
#: a batch that raced with a clinician's write is rolled back and run again this many times
ATTEMPTS = 3


@app.callback()
def _maternal() -> None:
    """Antenatal care: the nightly re-evaluation."""


def _require_migrated() -> None:
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        err.print(str(e), style="bold red", markup=False)
        raise typer.Exit(1) from None


def _batch(after_id: int, limit: int) -> Any:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return run_unit_of_work(
                lambda s: service.reevaluate_current(s, after_id=after_id, limit=limit)
            )
        except PreconditionFailed:
            # a clinician changed a pregnancy of this batch meanwhile: nothing was stored
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@app.command("reevaluate")
def reevaluate_command(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="pregnancies per transaction")
    ] = 500,
) -> None:
    """Re-run the antenatal rules as of today over every current pregnancy, in batches."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    _require_migrated()
    total = run_unit_of_work(service.count_current)
    evaluated = risk_changed = updated = 0
    after = 0
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as bar:
        task = bar.add_task("re-evaluating", total=max(total, 1))
        while True:
            done = _batch(after, batch)
            if done.last_id is None:
                break
            after = done.last_id
            evaluated += done.evaluated
            risk_changed += done.risk_changed
            updated += done.updated
            # pregnancies registered meanwhile may take the count past the first total
            bar.update(task, completed=evaluated, total=max(total, evaluated, 1))
            if done.evaluated < batch:
                break
    out.print(
        f"Re-evaluated {evaluated:,} current pregnancies: {risk_changed:,} changed risk level, "
        f"{updated:,} got new advice.",
        markup=False,
    )
