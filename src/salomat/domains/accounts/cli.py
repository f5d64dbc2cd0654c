"""``salomat user ...``: accounts from the command line (the first admin, service accounts).

Each command is one unit of work: it opens a session, calls the service, and
commits only when the service succeeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from salomat.core import backup
from salomat.core.errors import FieldError, SalomatError, field_errors_from_pydantic
from salomat.core.policy import Role
from salomat.core.security import Principal
from salomat.core.uow import run_unit_of_work
from salomat.domains.accounts import service
from salomat.domains.accounts.schemas import (
    MIN_PASSWORD,
    ClientSystemIn,
    ClientSystemOut,
    UserIn,
    UserOut,
)

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


# ---- client systems (SMART Backend Services, docs/exchange.md) -------------------------

clients_app = typer.Typer(
    help="Client systems that log in as themselves (SMART Backend Services).",
    no_args_is_help=True,
)
#: who an operator's command acts as in the audit trail
CLI_ADMIN = Principal(user_id=0, username="cli:client", role=Role.admin.value, session_id="cli")


def _run(what: str, work: Any) -> Any:
    try:
        backup.require_migrated()
    except backup.BackupError as e:
        raise fail(str(e)) from None
    try:
        return run_unit_of_work(work)
    except SalomatError as e:
        raise fail(f"{what}: {e.detail}", e.errors) from None


def _show(c: ClientSystemOut) -> None:
    where = f" at {c.facility_code}" if c.facility_code else ""
    state = "active" if c.is_active else f"disabled {c.disabled_at:%Y-%m-%d %H:%M} UTC"
    out.print(f"{c.client_id}  {c.name}  ({c.role.value}{where}; {state})", markup=False)
    out.print(f"  scopes: {' '.join(c.scopes)}", markup=False)
    keys = ", ".join(f"{k.kid} ({k.alg})" for k in c.keys) or "none"
    out.print(f"  keys: {keys}", markup=False)
    if c.origins:
        out.print(f"  origins: {' '.join(c.origins)}", markup=False)


def _new_key(alg: str, kid: str) -> tuple[str, str]:
    """A new key pair: the public JWKS (to register) and the private key as PEM."""
    import json

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if alg == "RS384":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = ec.generate_private_key(ec.SECP384R1())
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps({"keys": [{**jwk, "kid": kid, "alg": alg}]}), pem


def _write_private(client_id: str, kid: str, pem: str) -> Path:
    from salomat.core.config import get_settings

    folder = get_settings().var_dir / "client-keys"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{client_id}.{kid}.pem"
    path.touch(mode=0o600)
    path.write_text(pem, encoding="utf-8")
    return path


@clients_app.command("add")
def client_add(
    name: Annotated[str, typer.Option(help="the system's name, shown in the audit")],
    role: Annotated[Role, typer.Option(case_sensitive=False, help="the role it acts in")],
    scope: Annotated[
        list[str], typer.Option(help="a granted scope, e.g. system/Patient.read (repeat)")
    ],
    facility: Annotated[
        str | None, typer.Option(help="facility code; required for facility roles")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="the client id (made from random letters if absent)")
    ] = None,
    jwks_file: Annotated[
        Path | None, typer.Option(help="its public keys: a JWKS or one JWK (JSON file)")
    ] = None,
    generate_key: Annotated[
        str | None,
        typer.Option(help="make a key pair (ES384 or RS384); the private key goes to the var dir"),
    ] = None,
    origin: Annotated[
        list[str] | None, typer.Option(help="a browser origin it calls from (repeat)")
    ] = None,
) -> None:
    """Register a client system."""
    if jwks_file is not None and generate_key is not None:
        raise fail("Give --jwks-file or --generate-key, not both.")
    pem = kid = None
    jwks = jwks_file.read_text(encoding="utf-8") if jwks_file is not None else None
    if generate_key is not None:
        alg = generate_key.upper()
        if alg not in ("ES384", "RS384"):
            raise fail("--generate-key is ES384 or RS384.")
        kid = f"{alg.lower()}-1"
        jwks, pem = _new_key(alg, kid)
    try:
        data = ClientSystemIn(
            client_id=client_id,
            name=name,
            role=role,
            facility_code=facility,
            scopes=scope,
            jwks=jwks,
            origins=origin or [],
        )
    except ValidationError as e:
        raise fail(
            "The client system was not registered:", field_errors_from_pydantic(list(e.errors()))
        ) from None

    async def work(session: Any) -> ClientSystemOut:
        return await service.register_client(session, CLI_ADMIN, data)

    c = _run("The client system was not registered", work)
    out.print(f"Registered client system {c.client_id}.", style="green", markup=False)
    _show(c)
    if pem is not None and kid is not None:
        path = _write_private(c.client_id, kid, pem)
        out.print(
            f"Its private key (kid {kid}) is in {path}: give it to the system's operator "
            "and delete it here. Sign assertions with it for the token endpoint "
            "(docs/exchange.md).",
            style="yellow",
            markup=False,
        )


@clients_app.command("list")
def client_list() -> None:
    """The registered client systems, their scopes and keys."""

    async def work(session: Any) -> list[ClientSystemOut]:
        return await service.list_clients(session)

    rows = _run("The client systems could not be read", work)
    if not rows:
        out.print("No client system is registered.", markup=False)
    for c in rows:
        _show(c)


@clients_app.command("key")
def client_key(
    client_id: Annotated[str, typer.Argument(help="the client id")],
    add: Annotated[
        Path | None, typer.Option(help="a JWKS or JWK file with the key(s) to add")
    ] = None,
    remove: Annotated[str | None, typer.Option(help="the kid of a key to remove")] = None,
) -> None:
    """Add public keys to a client system, or remove one (key rotation)."""
    if (add is None) == (remove is None):
        raise fail("Give --add FILE or --remove KID.")

    async def work(session: Any) -> ClientSystemOut:
        if add is not None:
            text = add.read_text(encoding="utf-8")
            return await service.add_client_keys(session, CLI_ADMIN, client_id, text)
        return await service.remove_client_key(session, CLI_ADMIN, client_id, remove or "")

    c = _run("The keys were not changed", work)
    _show(c)


@clients_app.command("disable")
def client_disable(client_id: Annotated[str, typer.Argument(help="the client id")]) -> None:
    """Disable a client system: no new token, and its live tokens end now."""

    async def work(session: Any) -> ClientSystemOut:
        return await service.set_client_active(session, CLI_ADMIN, client_id, False)

    c = _run("The client system was not disabled", work)
    out.print(f"Disabled client system {c.client_id}.", style="green", markup=False)
