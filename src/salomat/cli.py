"""``salomat``: serve, migrate, back up and restore, load the demo region.

The root adds each domain's command group (``salomat user`` from accounts).
Every command that touches data is one unit of work: it opens a session,
calls services, commits once at the end, and disposes the engines.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from salomat.core import audit_chain, db_roles, idempotency, migrate
from salomat.core import backup as db_backup
from salomat.core import synth as synth_core
from salomat.core.config import get_settings
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    SalomatError,
    field_errors_from_pydantic,
)
from salomat.core.pagination import PageParams
from salomat.core.policy import Role
from salomat.core.security import Principal
from salomat.core.uow import run_unit_of_work
from salomat.country import pack
from salomat.domains.accounts import cli as accounts_cli
from salomat.domains.accounts import service as accounts
from salomat.domains.accounts.schemas import UserIn, UserOut
from salomat.domains.cancer import service as cancer
from salomat.domains.child import service as child
from salomat.domains.epidemic.service import demo as epidemic_demo
from salomat.domains.epidemic.service import synth as epidemic_synth
from salomat.domains.immunization import service as immunization
from salomat.domains.insurance import cli as insurance_cli
from salomat.domains.insurance.service import demo as insurance_demo
from salomat.domains.insurance.service import synth as insurance_synth
from salomat.domains.maternal import cli as maternal_cli
from salomat.domains.maternal import service as maternal
from salomat.domains.planning import service as planning
from salomat.domains.planning.service import synth as planning_synth
from salomat.domains.prescription import cli as prescription_cli
from salomat.domains.prescription import service as prescription
from salomat.domains.record import demo as record_demo
from salomat.domains.record import synth as record_synth
from salomat.domains.registry import cli as registry_cli
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import (
    AttachIn,
    EmployerIn,
    FacilityIn,
    PersonIn,
    PersonQuery,
    RelationIn,
)
from salomat.domains.registry.service import demo_vital
from salomat.domains.sanatorium import cli as sanatorium_cli
from salomat.domains.sanatorium import service as sanatorium
from salomat.domains.screening import service as screening
from salomat.domains.sickleave import service as sickleave
from salomat.domains.statistics import cli as statistics_cli
from salomat.domains.statistics import service as statistics_service

app = typer.Typer(
    name="salomat",
    help="Salomat, the national digital-health platform: serve, migrate, back up, demo data.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
demo_app = typer.Typer(help="The demo region of the deployed country.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
maintenance_app = typer.Typer(help="Housekeeping to run daily (cron).", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")
audit_app = typer.Typer(
    help="The audit trail: seal its hash chain, verify that no row was altered or removed.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_cli.app, name="user")
app.add_typer(accounts_cli.clients_app, name="client")
app.add_typer(registry_cli.territory_app, name="territory")
app.add_typer(registry_cli.app, name="registry")
app.add_typer(maternal_cli.app, name="maternal")
app.add_typer(prescription_cli.app, name="formulary")
app.add_typer(prescription_cli.claims_app, name="claims")
app.add_typer(sanatorium_cli.app, name="sanatorium")
app.add_typer(statistics_cli.app, name="statistics")
app.add_typer(insurance_cli.app, name="insurance")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, errors: list[FieldError] | None = None) -> typer.Exit:
    err.print(message, style="bold red", markup=False)
    for e in errors or []:
        err.print(f"  {e.field}: {e.message}", style="red", markup=False)
    return typer.Exit(1)


@app.callback()
def _check_configuration() -> None:
    """Refuse a bad SALOMAT_* variable up front, naming it, instead of failing midway."""
    try:
        get_settings()
    except ValidationError as e:
        errors = [
            FieldError(f"SALOMAT_{f.field.upper()}", f.message)
            for f in field_errors_from_pydantic(list(e.errors()))
        ]
        raise _fail("The configuration is invalid:", errors) from None


# ---- serve ---------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SALOMAT_WORKERS",
            help="worker processes (uvicorn's); each has its own database pool of "
            "SALOMAT_DB_POOL_SIZE + SALOMAT_DB_MAX_OVERFLOW connections (docs/operations.md)",
        ),
    ] = 1,
) -> None:
    """Serve the web UI, the REST API and the FHIR API (uvicorn; logs are JSON lines)."""
    import uvicorn

    try:
        current = db_backup.current_revision()
        if current is None or sorted(current.split(",")) != sorted(db_backup.head_revisions()):
            err.print(
                f"Warning: the database is at migration {current or 'none'}; "
                "run `salomat db upgrade` first.",
                style="yellow",
                markup=False,
            )
    except Exception as e:  # a warning only: the app itself reports readiness on /readyz
        err.print(f"Warning: could not check the database: {e}", style="yellow", markup=False)
    try:
        bypass = run_unit_of_work(db_roles.bypass_warning)
    except Exception:  # unreachable or unmigrated: said just above
        bypass = None
    if bypass:
        err.print(bypass, style="bold yellow", markup=False)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    shown = f"[{shown}]" if ":" in shown else shown
    out.print(f"Salomat on http://{shown}:{port}/  (health: /healthz, readiness: /readyz)")
    if workers > 1:
        out.print(f"{workers} worker processes, each with its own database pool")
    # the import string and factory=True: each worker process (spawned, not forked) builds
    # its own app, and its engine and pool on first use; none is inherited from this one
    uvicorn.run(
        "salomat.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="run the jobs due now, then stop")] = False,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="run only jobs of this kind (repeatable)")
    ] = None,
) -> None:
    """Run background jobs (bulk exports, subscription deliveries) until stopped.

    The server runs them itself too unless SALOMAT_JOBS_IN_PROCESS=false; run as many
    workers as the load needs: each claims its own jobs (docs/operations.md).
    """
    import asyncio
    import signal

    import salomat.fhir.api  # noqa: F401  (imports every job handler: fhir and the domains)
    from salomat.core import jobs
    from salomat.core.db import dispose_engines

    known = jobs.kinds()
    unknown = sorted(set(kind or ()) - known)
    if unknown:
        raise _fail(
            f"Unknown job kind: {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})."
        )

    async def main() -> int:
        try:
            if once:
                return await jobs.run_until_idle(only=kind or None)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            out.print(f"Worker {jobs.worker_name()} running jobs ({', '.join(sorted(known))})")
            await jobs.work(stop, only=kind or None)
            return 0
        finally:
            await dispose_engines()

    ran = asyncio.run(main())
    if once:
        out.print(f"{ran} job(s) run.")


# ---- db ------------------------------------------------------------------------


def _revision_line(current: str | None) -> str:
    heads = db_backup.head_revisions()
    if current is None:
        return "none: the database is empty (run `salomat db upgrade`)"
    if sorted(current.split(",")) == sorted(heads):
        return f"{current} (head)"
    return f"{current} (head is {','.join(heads)}: run `salomat db upgrade`)"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration up to the latest (safe to repeat)."""
    where = db_backup.describe()
    sqlite_file = db_backup.sqlite_file()
    if sqlite_file is not None and not sqlite_file.exists():
        # health data: owner-only from the start (SQLite gives -wal/-shm the same mode)
        sqlite_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(sqlite_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with err.status(f"Migrating {where}..."):
        try:
            # and ANALYZE on PostgreSQL: every table after a migration, else those without
            # statistics (a restored dump): a planner without them misreads the hot queries
            analyzed = migrate.upgrade(analyze=True)
        except Exception as e:  # alembic and driver errors alike: say which database failed
            raise _fail(f"Migrating {where} failed: {e}") from None
    out.print(f"{where}: {_revision_line(db_backup.current_revision())}", markup=False)
    if analyzed:
        which = "every table" if analyzed == ["*"] else f"{len(analyzed)} table(s) without them"
        out.print(f"planner statistics refreshed: {which}", markup=False)


@db_app.command("current")
def db_current() -> None:
    """Print the migration the database is at."""
    try:
        out.print(_revision_line(db_backup.current_revision()), markup=False)
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None


@db_app.command("roles")
def db_roles_command(
    owner: Annotated[str, typer.Option(help="the role that owns the tables, runs migrations")] = (
        db_roles.Roles.owner
    ),
    app_role: Annotated[
        str, typer.Option("--app", help="the role the app connects as: no UPDATE/DELETE of audit")
    ] = db_roles.Roles.app,
    auditor: Annotated[
        str, typer.Option(help="a read-only role for `salomat audit verify`")
    ] = db_roles.Roles.auditor,
) -> None:
    """Create the PostgreSQL roles that keep the app from bypassing the audit protections.

    Run it as a superuser once (creates the roles, hands the tables to the owner),
    then as the owner after each `salomat db upgrade` (refreshes the grants). Safe
    to repeat. See "Database roles" in docs/operations.md.
    """
    if db_backup.backend() != "postgresql":
        raise _fail(
            "SQLite has no database roles: nothing was done. Whoever can write the database "
            "file can change anything in it, the audit trail included; keep SALOMAT_VAR_DIR "
            "owner-only, and use PostgreSQL with these roles in production "
            '("Database roles" in docs/operations.md).'
        )
    roles = db_roles.Roles(owner=owner, app=app_role, auditor=auditor)
    try:
        done = run_unit_of_work(lambda s: db_roles.create_roles(s, roles))
    except SalomatError as e:
        raise _fail(f"Nothing was changed: {e.detail}") from None
    except Exception as e:  # a refusal of the server: one transaction, so nothing was done
        raise _fail(f"Nothing was changed: {e}") from None
    for line in done:
        out.print(f"- {line}", markup=False)
    out.print(
        f"Run `salomat db upgrade` as {roles.owner}, the app (and `salomat audit seal`) as "
        f"{roles.app}, `salomat audit verify` as {roles.auditor}; run `salomat db roles` again "
        f"as {roles.owner} after each upgrade.",
        markup=False,
    )


# ---- audit trail -------------------------------------------------------------------


def _hash_text(digest: bytes | None) -> str:
    return digest.hex() if digest else "none"


@audit_app.command("seal")
def audit_seal(
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="rows per transaction")] = 5000,
    wait: Annotated[
        float,
        typer.Option(
            min=0, help="seconds to wait for transactions still writing audit rows (PostgreSQL)"
        ),
    ] = 30.0,
) -> None:
    """Chain the audit rows written since the last seal (run it every few minutes from cron)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    try:
        db_backup.require_migrated()
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("sealing")

        def shown(n: int) -> None:
            bar.update(task, description=f"sealed {n:,} rows")

        try:
            report = audit_chain.run_job(
                lambda: audit_chain.seal(batch=batch, wait_seconds=wait, progress=shown)
            )
        except SalomatError as e:
            raise _fail(e.detail) from None
    if report.waiting_for:
        pids = ", ".join(map(str, report.waiting_for))
        err.print(
            f"Warning: rows written since the last seal were not sealed: the transaction(s) "
            f"of PostgreSQL backend(s) {pids} were still writing the audit trail after "
            f"{wait:g} s. The next run seals them once they end.",
            style="yellow",
            markup=False,
        )
    if report.head_id is None:
        out.print("The audit trail is empty: nothing to seal.", markup=False)
    else:
        out.print(
            f"Sealed {report.sealed:,} new audit row(s); the chain ends at row "
            f"{report.head_id}, hash {_hash_text(report.head_hash)}.",
            markup=False,
        )
    if report.altered:
        err.print(
            f"{len(report.altered)} row(s) no longer matched their own hash when sealed "
            "(sealed all the same; `salomat audit verify` keeps naming them):",
            style="bold red",
            markup=False,
        )
        for finding in report.altered[:50]:
            err.print(f"  {finding.describe()}", style="red", markup=False)
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="rows read at a time")] = 5000,
    seal_first: Annotated[
        bool, typer.Option("--seal", help="seal the rows written since the last seal first")
    ] = False,
) -> None:
    """Check every audit row against its own hash and the sealed chain.

    Exits 1 naming the first row altered or missing. Read-only without --seal
    (the auditor role can run it).
    """
    if seal_first:
        # rows found altered while sealing exit 1 there: the verification below names them
        with contextlib.suppress(typer.Exit):
            audit_seal(batch=batch, wait=30.0)
    try:
        db_backup.require_migrated()
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    with err.status("Verifying the audit trail..."):
        report = audit_chain.run_job(lambda: audit_chain.verify(batch=batch))
    first = report.first
    if first is not None:
        err.print(
            f"FAILED: the audit trail was tampered with. First: {first.describe()}.",
            style="bold red",
            markup=False,
        )
        for finding in sorted(report.findings, key=lambda f: f.event_id)[:50]:
            err.print(f"  {finding.describe()}", style="red", markup=False)
        if len(report.findings) > 50:
            err.print(f"  ... {len(report.findings) - 50} more", style="red", markup=False)
        err.print(
            f"{len(report.findings)} problem(s) in {report.rows:,} audit rows. The rows stay as "
            "they are (append-only): keep this output as evidence.",
            markup=False,
        )
        raise typer.Exit(1)
    sealed = (
        f"{report.sealed:,} sealed (the chain ends at row {report.head_id}, hash "
        f"{_hash_text(report.head_hash)})"
        if report.sealed
        else "none sealed yet (run `salomat audit seal`)"
    )
    out.print(
        f"OK: all {report.rows:,} audit rows are as they were written: {sealed}; "
        f"{report.unsealed:,} written since the last seal, checked against their own hash.",
        markup=False,
    )
    if report.without_hash:
        out.print(
            f"{report.without_hash:,} row(s) carry no hash of their own (written before "
            "migration 0016, or by hand): the seal protects them from when it covers them.",
            markup=False,
        )


# ---- backup and restore ----------------------------------------------------------


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="where to write the backup", dir_okay=False)],
    overwrite: Annotated[bool, typer.Option(help="replace FILE if it exists")] = False,
) -> None:
    """Write a consistent copy of the database to FILE (owner-only: it holds health data)."""
    where = db_backup.describe()
    with err.status(f"Backing up {where} to {file}..."):
        try:
            db_backup.backup(file, overwrite=overwrite)
        except db_backup.BackupError as e:
            raise _fail(str(e)) from None
    size = file.stat().st_size
    out.print(f"Backed up {where} to {file} ({size:,} bytes, mode 0600).", markup=False)


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="a file made by `salomat backup`", dir_okay=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Replace everything in the database with FILE. Stop the app first."""
    where = db_backup.describe()
    try:
        revision = db_backup.inspect(file)
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    if not yes:
        typer.confirm(
            f"Replace everything in {where} with {file} (migration {revision})?", abort=True
        )
    with err.status(f"Restoring {where} from {file}..."):
        try:
            revision = db_backup.restore(file)
        except db_backup.BackupError as e:
            raise _fail(str(e)) from None
    out.print(f"Restored {where} from {file}: migration {_revision_line(revision)}", markup=False)


# ---- demo ------------------------------------------------------------------------

#: who the demo loader acts as in the audit trail (a registrar: registers people)
DEMO_LOADER = Principal(
    user_id=0, username="cli:demo-load", role=Role.registrar.value, session_id="cli"
)
_SYLLABLE_START = "bdfgkmnprstvz"
_SYLLABLE_VOWEL = "aeiou"


def readable_password(groups: int = 4) -> str:
    """``bota-rune-ziko-maku``: about 50 bits, easy to read aloud and type in a demo."""
    parts = []
    for _ in range(groups):
        parts.append(
            "".join(
                secrets.choice(_SYLLABLE_START) + secrets.choice(_SYLLABLE_VOWEL) for _ in range(2)
            )
        )
    return "-".join(parts)


@dataclass
class DemoLoad:
    users_before: int
    loaded: bool
    facilities: int = 0
    people: int = 0
    pregnancies: int = 0
    created: list[tuple[UserOut, str]] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


async def _person_id_by_national_id(session: Any, national_id: str) -> int:
    page = await registry.search_persons(
        session, DEMO_LOADER, PersonQuery(national_id=national_id), PageParams(limit=1, offset=0)
    )
    return page.items[0].id


async def load_demo(
    session: Any, data: dict[str, Any], *, force: bool, vital_sample: bool = False
) -> DemoLoad:
    """Facilities, people, a user for each role and clinicians at the facilities referrals
    reach; what already exists is left alone."""
    before = await accounts.count_users(session)
    result = DemoLoad(users_before=before, loaded=not before or force)
    if not result.loaded:
        return result
    if data.get("territory"):
        csv_file = pack.PACKS_DIR / get_settings().country / data["territory"]
        report = await registry.import_territory(
            session, csv_file.read_text(encoding="utf-8"), by=DEMO_LOADER.username
        )
        if report.issues:
            raise Invalid.fields(
                [FieldError(f"line {i.line}: {i.column}", i.message) for i in report.issues],
                f"the demo territory {csv_file.name} has wrong rows",
            )
    for f in data["facilities"]:  # parents come before their subordinates in the file
        if await registry.facility_by_code(session, f["code"]) is None:
            await registry.create_facility(
                session,
                FacilityIn(
                    code=f["code"],
                    name=f["name"],
                    kind=f["kind"],
                    names=f.get("names", {}),
                    perinatal_level=f.get("perinatal_level"),
                    settlement_code=f.get("settlement"),
                    parent_code=f.get("parent"),
                    beds=f.get("beds", {}),
                    address=f.get("address"),
                    phone=f.get("phone"),
                ),
                by=DEMO_LOADER.username,
            )
            result.facilities += 1
    for e in data.get("employers", []):
        if await registry.employer_by_business_id(session, e["business_id"]) is None:
            await registry.create_employer(
                session,
                EmployerIn(
                    business_id=e["business_id"],
                    name=e["name"],
                    names=e.get("names", {}),
                    settlement_code=e.get("settlement"),
                ),
                by=DEMO_LOADER.username,
            )
    await prescription.load_demo_formulary(session)
    person_ids: dict[str, int] = {}
    # the demo's people are attached from the first day of last month (or birth), so the
    # insurance fund's per-capita payment of last month counts them
    this_month = date.today().replace(day=1)
    attached_from = (this_month - timedelta(days=1)).replace(day=1)
    for p in data["people"]:
        facility = p.get("attached_facility_code", data["polyclinic"])
        person = PersonIn(
            **{k: v for k, v in p.items() if k != "attached_facility_code"},
            duplicate_reason="demo data: distinct fictitious people",
        )
        try:
            created = await registry.register_person(session, DEMO_LOADER, person)
        except Conflict:
            person_ids[p["national_id"]] = await _person_id_by_national_id(
                session, p["national_id"]
            )
            continue
        if facility:
            created = await registry.attach_person(
                session,
                DEMO_LOADER,
                created.id,
                AttachIn(facility_code=facility, start_on=max(person.birth_date, attached_from)),
                expected_version=created.version,
            )
        person_ids[p["national_id"]] = created.id
        result.people += 1
    for rel in data.get("relations", []):
        try:
            await registry.add_relation(
                session,
                DEMO_LOADER,
                person_ids[rel["child"]],
                RelationIn(
                    related_person_id=person_ids[rel["parent"]],
                    kind=rel["kind"],
                    document=rel["document"],
                ),
            )
        except Conflict:
            continue  # already recorded (a --force load)
    for u in data["users"]:
        password = readable_password()
        user_in = UserIn(
            username=u["username"],
            password=password,
            role=u["role"],
            full_name=u.get("full_name"),
            facility_code=u.get("facility"),
            person_id=person_ids[u["person"]] if u.get("person") else None,
            employer_business_id=u.get("employer"),
            language=u.get("language"),
        )
        try:
            user = await accounts.create_user(session, user_in)
        except Conflict as e:
            if any(fe.field == "username" for fe in e.errors):
                result.existing.append(u["username"])
                continue
            raise
        result.created.append((user, password))
    result.pregnancies = await maternal.load_demo_pregnancies(session, data.get("pregnancies", []))
    await immunization.load_demo_immunizations(session, data.get("immunizations", []))
    await sickleave.load_demo_sick_leave(
        session, data.get("sick_leave", []), person_ids, facility_code=data["polyclinic"]
    )
    await sanatorium.load_demo_sanatorium(
        session, data.get("sanatorium", {}), person_ids, facility_code=data["polyclinic"]
    )
    await cancer.load_demo_cancer(
        session, data.get("cancer", {}), person_ids, facility_code=data["polyclinic"]
    )
    await prescription.load_demo_prescriptions(
        session, data.get("prescriptions", []), person_ids, facility_code=data["polyclinic"]
    )
    await screening.load_demo_screening(
        session, data.get("screening", {}), person_ids, facility_code=data["polyclinic"]
    )
    await planning.load_demo_planning(session, DEMO_LOADER, data.get("planning", {}))
    await epidemic_demo.load_demo_epidemic(
        session, data, person_ids, today=pack.today(get_settings().country)
    )
    await insurance_demo.load_demo_insurance(session, data.get("insurance", {}), person_ids)
    await record_demo.load_demo_record(session, data.get("record", {}), person_ids)
    country = get_settings().country
    vital = data.get("vital_statistics", {})
    await demo_vital.load_demo_vital(
        session, DEMO_LOADER, vital, country=country, sample=vital_sample
    )
    if vital_sample and vital.get("sample"):
        # the cohort's vaccinations, as `salomat synth` would give them (docs/operations.md)
        cohort = await demo_vital.sample_population(session, country)
        await immunization.vaccinate_synthetic_cohort(
            session, cohort, seed=int(vital["sample"].get("seed", 1)), as_of=cohort.as_of
        )
    return result


def _logins_path() -> Path:
    return get_settings().var_dir / "demo-logins.txt"


def _read_logins(path: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            cols = line.split()
            if len(cols) == 4 and not line.startswith("#"):
                rows[cols[0]] = cols
    return rows


def _write_logins(path: Path, data: dict[str, Any], load: DemoLoad) -> None:
    """Owner-only, written whole and then renamed: never a half-written password list."""
    old = _read_logins(path)
    new = {
        u.username: [u.username, pw, u.role.value, u.facility_code or "-"] for u, pw in load.created
    }
    rows = [new.get(u["username"]) or old.get(u["username"]) for u in data["users"]]
    region = data.get("region", {})
    lines = [
        f"# Salomat demo logins for this installation: {region.get('name', '')} "
        f"({get_settings().country}), written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "# Demo data only. Anyone holding this file can log in: keep it private.",
        f"# {'username':<16} {'password':<22} {'role':<18} facility",
    ]
    lines += [f"  {r[0]:<16} {r[1]:<22} {r[2]:<18} {r[3]}" for r in rows if r]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@demo_app.command("load")
def demo_load(
    force: Annotated[
        bool,
        typer.Option(
            help="load even though the database has users; adds only what is missing, "
            "never duplicates, never changes existing accounts"
        ),
    ] = False,
    vital_sample: Annotated[
        bool,
        typer.Option(
            help="with a synthetic birth cohort (vaccinated, with infant and under-5 deaths) "
            "in the region's other districts, for the vital-statistics trends; "
            "--no-vital-sample loads the demo without it (faster, about 4,000 fewer "
            "people in the region)"
        ),
    ] = True,
) -> None:
    """Load the demo region (facilities, people, demo users) into an empty database."""
    try:
        db_backup.require_migrated()
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    country = get_settings().country
    data = pack.demo(country)
    region = data.get("region", {}).get("name", country)
    with err.status(f"Loading the demo region {region}..."):
        try:
            load = run_unit_of_work(
                lambda s: load_demo(s, data, force=force, vital_sample=vital_sample)
            )
        except Exception as e:
            errors = getattr(e, "errors", None)
            raise _fail(
                f"The demo region was not loaded (nothing was changed): {e}",
                errors if isinstance(errors, list) else None,
            ) from None
    if not load.loaded:
        out.print(
            f"The database already has {load.users_before} user account(s): the demo region "
            "was not loaded. `salomat demo load --force` adds what is missing of it.",
            markup=False,
        )
        if _logins_path().is_file():
            out.print(_logins_path().read_text(encoding="utf-8"), end="", markup=False)
        return
    out.print(
        f"Demo region {region}: added {load.facilities} facilities, {load.people} people, "
        f"{load.pregnancies} pregnancies, {len(load.created)} users.",
        markup=False,
    )
    # the health indicators of the demo's closed years and last month, computed by the
    # server's worker once it runs (`make run`), and the nightly run after them
    sample = data.get("vital_statistics", {}).get("sample") or {}
    periods = _demo_statistics_periods(pack.today(country), sample.get("from_year"))
    job = run_unit_of_work(
        lambda s: statistics_service.request_aggregate(s, periods, requested_by="demo load")
    )
    out.print(
        f"Health indicators of {periods[-1]}-{periods[1]} and {periods[0]} queued "
        f"(job {job}); the server computes them when it starts.",
        markup=False,
    )
    if load.existing:
        out.print(
            f"Left unchanged (the username exists): {', '.join(load.existing)}.", markup=False
        )
    path = _logins_path()
    if load.created:
        _write_logins(path, data, load)
    if path.is_file():
        out.print(path.read_text(encoding="utf-8"), end="", markup=False)
        out.print(f"Saved in {path} (owner-only); `salomat demo logins` shows them again.")


def _demo_statistics_periods(today: date, from_year: int | None = None) -> list[str]:
    """Last month, then the closed years of the demo's vital history (from the synthetic
    cohort's ``from_year``, else 7), newest first."""
    first = today.replace(day=1) - timedelta(days=1)
    since = int(from_year) if from_year else today.year - 7
    return [f"{first:%Y-%m}", *(str(y) for y in range(today.year - 1, since - 1, -1))]


@demo_app.command("logins")
def demo_logins() -> None:
    """Print the demo logins of this installation."""
    path = _logins_path()
    if not path.is_file():
        raise _fail(f"There is no {path}: run `salomat demo load` on an empty database first.")
    out.print(path.read_text(encoding="utf-8"), end="", markup=False)


# ---- maintenance -------------------------------------------------------------------


async def purge(session: Any, keep_days: int) -> dict[str, int]:
    counts = await accounts.purge_expired(session, keep_days=keep_days)
    counts["idempotency_records"] = await idempotency.purge_older_than(
        session, get_settings().idempotency_hours
    )
    return counts


@maintenance_app.command("purge")
def maintenance_purge(
    keep_days: Annotated[
        int, typer.Option(min=1, help="keep ended login sessions this many days")
    ] = 30,
) -> None:
    """Delete expired login sessions, old failed-login rows and stored idempotent replies.

    Audit rows are never deleted: the audit trail is append-only.
    """
    try:
        db_backup.require_migrated()
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    counts = run_unit_of_work(lambda s: purge(s, keep_days))
    out.print(
        "Deleted " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items()) + ".",
        markup=False,
    )


# ---- epidemic: each region's zone and alerts, nightly -----------------------------------

epidemic_app = typer.Typer(help="Epidemic surveillance: zones and alerts.", no_args_is_help=True)
app.add_typer(epidemic_app, name="epidemic")


@epidemic_app.command("record-day")
def epidemic_record_day(
    day: Annotated[
        str | None, typer.Option("--day", help="the day (YYYY-MM-DD; default today)")
    ] = None,
) -> None:
    """Record every region's zone on a day and raise its alerts (run nightly from cron;
    running a day again replaces its zones and raises nothing twice)."""
    from salomat.domains.epidemic.service import alerts as epidemic_alerts
    from salomat.domains.epidemic.service.notifications import today as epidemic_today

    try:
        when = date.fromisoformat(day) if day else epidemic_today()
    except ValueError:
        raise _fail(f"--day: not a date: {day}") from None
    try:
        done = run_unit_of_work(lambda s: epidemic_alerts.record_day(s, when))
    except Invalid as e:
        raise _fail("Not recorded.", e.errors) from None
    out.print(f"{when}: {done['zones']} region zones recorded, {done['alerts']} alerts raised.")


@epidemic_app.command("reader-region")
def epidemic_reader_region(
    user_id: Annotated[int, typer.Option("--user-id", help="the reader's account id")],
    region: Annotated[
        str | None, typer.Option("--region", help="region code; omit for every region")
    ] = None,
) -> None:
    """Limit an epidemiologist to one region's alerts (without --region: every region)."""
    from salomat.domains.epidemic.service import alerts as epidemic_alerts

    try:
        run_unit_of_work(lambda s: epidemic_alerts.set_reader_region(s, user_id, region))
    except Invalid as e:
        raise _fail("Not changed.", e.errors) from None
    out.print(f"User {user_id}: {region or 'every region'}.", markup=False)


# ---- planning: the road network of a region ------------------------------------------

planning_app = typer.Typer(help="Planning: the road network for access.", no_args_is_help=True)
app.add_typer(planning_app, name="planning")


@planning_app.command("import-roads")
def planning_import_roads(
    file: Annotated[Path, typer.Argument(help="an OpenStreetMap extract: .osm or .osm.gz")],
    region: Annotated[str, typer.Option(help="the region's territory code")],
) -> None:
    """Import a region's road network from an OpenStreetMap XML extract, replacing the
    region's previous one (docs/planning.md, "Road network"). A .osm.pbf is converted
    with osmium first; nothing is stored if the file is refused."""
    from salomat.domains.planning.service import roads

    try:
        db_backup.require_migrated()
    except db_backup.BackupError as e:
        raise _fail(str(e)) from None
    try:
        with err.status(f"Importing {file}..."):
            counts = run_unit_of_work(lambda s: roads.import_file(s, file, region))
    except SalomatError as e:
        raise _fail(e.detail, e.errors) from None
    out.print(
        f"Region {region}: {counts['nodes']} road nodes, {counts['edges']} edges imported.",
        markup=False,
    )


# ---- synthetic national population -------------------------------------------------


class _RichProgress:
    """``core.synth.Progress`` on a rich progress bar (one line per stage)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def start(self, label: str, total: int | None) -> Any:
        task = self.bar.add_task(label, total=total)
        return lambda n: self.bar.advance(task, n)


def _timed(ctx: Any, name: str, generator: Any, *args: Any) -> Any:
    t0 = time.perf_counter()
    result = generator(ctx, *args)
    ctx.timings[name] = round(time.perf_counter() - t0, 1)
    return result


@app.command("synth")
def synth(
    people: Annotated[int, typer.Option(min=1, help="how many people (before duplicates)")],
    country: Annotated[
        str | None, typer.Option(help="UZ or KZ (default: SALOMAT_COUNTRY; the two must agree)")
    ] = None,
    seed: Annotated[int, typer.Option(help="same seed, same population")] = 1,
    as_of: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="the day the data is as of (default: today)"),
    ] = None,
    epidemic_r: Annotated[
        float | None,
        typer.Option(
            "--epidemic-r",
            min=0,
            max=10,
            help="also a synthetic epidemic at this R: case notifications of the last 8 weeks "
            "from a renewal process with the pack's serial interval (docs/epidemic.md)",
        ),
    ] = None,
) -> None:
    """Load a synthetic national population into an EMPTY database, for benchmarks and trials.

    Territory, facilities, people (households, both scripts, valid national ids),
    pregnancies with contacts, births, children with immunization and growth
    records, prescriptions with dispensings and claims, the insurance fund's payers,
    contributions and providers' claims, hospital stays in the shared health record,
    screenings of the target groups and disease-management enrolments with follow-up
    blood pressure and sugar readings, villages up to the country's count with census
    figures and primary-care units by the current norm (some missing: the planner's
    gaps), and a known set of duplicate persons
    (``synthetic_duplicate``). Streams with COPY on PostgreSQL.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    deployed = get_settings().country
    country = (country or deployed).upper()
    if country not in pack.countries():
        raise _fail(f"--country: no country pack {country!r} (have {', '.join(pack.countries())})")
    if country != deployed:
        raise _fail(
            f"--country {country} differs from SALOMAT_COUNTRY={deployed}: the app would read "
            f"this data with the wrong country pack. Set SALOMAT_COUNTRY={country}."
        )
    day = (as_of or datetime.now(UTC)).date()
    url = get_settings().resolved_database_url()
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as bar:
        try:
            with synth_core.run(
                url,
                country=country,
                people=people,
                seed=seed,
                as_of=day,
                progress=_RichProgress(bar),
            ) as ctx:
                population = _timed(ctx, "registry", registry.synthesize_population, people)
                births = _timed(ctx, "maternal", maternal.synthesize_pregnancies, population)
                _timed(ctx, "immunization", immunization.synthesize_immunizations, population)
                _timed(ctx, "child", child.synthesize_child_health, population, births)
                _timed(ctx, "prescription", prescription.synthesize_prescriptions, population)
                _timed(ctx, "sick_leave", sickleave.synthesize_sick_leave, population)
                _timed(ctx, "sanatorium", sanatorium.synthesize_sanatorium, population)
                _timed(ctx, "cancer", cancer.synthesize_cancer, population)
                _timed(ctx, "insurance", insurance_synth.synthesize_insurance, population)
                _timed(ctx, "record", record_synth.synthesize_record, population)
                _timed(ctx, "screening", screening.synthesize_screening, population)
                _timed(ctx, "planning", planning_synth.synthesize_planning, population)
                if epidemic_r is not None:
                    _timed(
                        ctx,
                        "epidemic",
                        lambda c, p: epidemic_synth.synthesize_epidemic(c, p, r=epidemic_r),
                        population,
                    )
        except synth_core.SynthError as e:
            raise _fail(f"Nothing was loaded: {e}") from None
    out.print(
        f"Synthetic {country} population (seed {seed}, as of {day}) loaded in "
        f"{time.perf_counter() - started:.0f} s:",
        markup=False,
    )
    for table, n in sorted(ctx.counts.items()):
        out.print(f"  {table:<32} {n:>12,}", markup=False)
