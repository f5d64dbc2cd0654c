"""``salomat sanatorium sweep``: the job that moves the queues on.

Offers lapse after the pack's hours, a booked guest who has not arrived after the
grace is a no-show, and every free place is offered to the first eligible person in
line. The server runs the same job in-process every ``SALOMAT_SWEEP_SECONDS``; run
this from cron where the server runs with ``SALOMAT_SWEEP_SECONDS=0`` (several app
processes) — two sweeps at once skip each other's rows (``SKIP LOCKED``).
"""

from __future__ import annotations

import typer
from rich.console import Console

from salomat.core.uow import run_unit_of_work
from salomat.domains.sanatorium import service

app = typer.Typer(help="The electronic sanatorium's queues.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)


@app.callback()
def _sanatorium() -> None:
    """The electronic sanatorium's queues."""


@app.command("sweep")
def sweep() -> None:
    """Lapse expired offers, record no-shows, offer every free place."""
    result = run_unit_of_work(lambda s: service.sweep(s))
    out.print(
        f"{result.lapsed} offers lapsed, {result.noshows} no-shows, {result.offered} offers made"
    )
