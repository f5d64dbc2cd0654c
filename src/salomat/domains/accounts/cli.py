"""``salomat user ...``: accounts from the command line (the first admin, service accounts).

Each command is one unit of work: it opens a session, calls the service, and
commits only when the service succeeded.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from salomat.core import backup
from salomat.core.errors import FieldError, SalomatError, field_errors_from_pydantic
from salomat.core.policy import Role
from salomat.core.uow import run_unit_of_work
from salomat.domains.accounts import service
from salomat.domains.accounts.schemas import MIN_PASSWORD, UserIn, UserOut

app = typer.Typer(help="User accounts.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, errors: list[FieldError] | None = None) -> typer.Exit:
    """Print the error (each wrong field on its own line) in red; the caller raises the result."""
    err.print(message, style="bold red", markup=False)
    for e in errors or []:
        err.print(f"  {e.field}: {e.message}", style="red", markup=False)
    return typer.Exit(1)


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="lower-case letters, digits, . _ -")],
    role: Annotated[Role, typer.Option(case_sensitive=False, help="what the account may do")],
    facility: Annotated[
        str | None, typer.Option(help="facility code; required for facility roles")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help=f"at least {MIN_PASSWORD} characters; asked for (hidden) when absent"),
    ] = None,
    full_name: Annotated[str | None, typer.Option(help="shown in the UI and audit views")] = None,
    person_id: Annotated[
        int | None, typer.Option(help="the person a citizen account opens")
    ] = None,
    employer: Annotated[
        str | None,
        typer.Option(help="the business id (BIN, STIR) of an employer account's organisation"),
    ] = None,
    language: Annotated[str | None, typer.Option(help="en, ru, uz or kk")] = None,
) -> None:
    """Create a user account."""
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        raise fail(str(e)) from None
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserIn(
            username=username,
            password=password,
            role=role,
            full_name=full_name,
            facility_code=facility,
            person_id=person_id,
            employer_business_id=employer,
            language=language,
        )
    except ValidationError as e:
        raise fail(
            "The account was not created:", field_errors_from_pydantic(list(e.errors()))
        ) from None

    async def work(session: Any) -> UserOut:
        return await service.create_user(session, data)

    try:
        user = run_unit_of_work(work)
    except SalomatError as e:
        raise fail(f"The account was not created: {e.detail}", e.errors) from None
    where = f" at {user.facility_code}" if user.facility_code else ""
    linked = f", person {user.person_id}" if user.person_id is not None else ""
    linked += f", employer {user.employer_id}" if user.employer_id is not None else ""
    out.print(
        f"Created user {user.username} (id {user.id}): {user.role.value}{where}{linked}.",
        style="green",
        markup=False,
    )
