"""The database roles that keep the application from bypassing the audit protections.

PostgreSQL enforces what the application may do to the audit trail only for a
role that neither is a superuser nor owns the tables: either can disable the
append-only triggers, name its own ``occurred_at`` and rewrite rows and their
seal alike. ``create_roles`` (``salomat db roles``) makes three roles: an owner
that runs the migrations, the app (no UPDATE, DELETE or TRUNCATE on the audit
tables, no say over a row's id and time) and a read-only auditor;
``bypass_warning`` is what ``salomat serve`` prints when the app connects with
rights it should not have. SQLite has no roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.audit import CONTENT
from salomat.core.db import dialect_name
from salomat.core.errors import Forbidden, Invalid, InvalidState

# ---- who may bypass the protections -------------------------------------------------

OPERATIONS_DOC = "docs/operations.md"


async def bypass_warning(session: AsyncSession) -> str | None:
    """A warning when the connected role can switch the audit protections off, else None.

    A PostgreSQL superuser can disable triggers and rewrite rows and their seal
    alike; so can the owner of ``audit_event`` (or a member of the owner's role),
    who can drop the triggers. SQLite has no roles: whoever can write the file can
    do anything (docs/operations.md says so; no warning at each start).
    """
    if dialect_name(session) != "postgresql":
        return None
    row = (
        await session.execute(
            text(
                "SELECT current_user AS name, r.rolsuper AS super, "
                "(SELECT pg_has_role(current_user, c.relowner, 'MEMBER') FROM pg_class c "
                " WHERE c.oid = to_regclass('audit_event')) AS owner "
                "FROM pg_roles r WHERE r.rolname = current_user"
            )
        )
    ).one()
    if row.super:
        why = "a superuser"
    elif row.owner:
        why = "the owner of the audit_event table (it can drop the append-only triggers)"
    else:
        return None
    return (
        f"Warning: the app is connected to PostgreSQL as {row.name}, {why}: the audit trail's "
        "protections (append-only rows, the database-set time, the sealed hash chain) can be "
        "bypassed with these rights. Run the app as a role without them: see "
        f'"Database roles" in {OPERATIONS_DOC}; `salomat db roles` creates them.'
    )


# ---- the database roles -------------------------------------------------------------

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: what the app may name when it inserts an audit row (the database sets id and time)
APP_INSERTS = ("row_hash", *CONTENT)
AUDIT_TABLES = ("audit_event", "audit_seal")
_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


@dataclass(frozen=True)
class Roles:
    owner: str = "salomat_owner"
    app: str = "salomat_app"
    auditor: str = "salomat_auditor"

    def check(self) -> None:
        names = {"owner": self.owner, "app": self.app, "auditor": self.auditor}
        for what, name in names.items():
            if not ROLE_NAME.fullmatch(name):
                raise Invalid(
                    f"--{what}: {name!r} is not a plain role name "
                    "(lower-case letters, digits and _; at most 63)"
                )
        if len(set(names.values())) != 3:
            raise Invalid("--owner, --app and --auditor must be three different roles.")


async def create_roles(session: AsyncSession, roles: Roles) -> list[str]:
    """Create (or check) the owner, app and auditor roles and set their rights; idempotent.

    As a superuser: creates missing roles, strips superuser-like attributes, hands
    the database and every object of the ``public`` schema to the owner. As the
    owner (after each ``salomat db upgrade``): refreshes the grants only. Returns
    one line per thing done or found, for the operator.
    """
    roles.check()
    if dialect_name(session) != "postgresql":
        raise InvalidState(
            "SQLite has no database roles: whoever can write the database file can change "
            "anything in it, the audit trail included. Keep SALOMAT_VAR_DIR readable by the "
            "service account only, and use PostgreSQL with these roles in production "
            f'("Database roles" in {OPERATIONS_DOC}).'
        )
    me = (
        await session.execute(
            text(
                "SELECT current_user AS name, rolsuper AS super, rolcreaterole AS createrole, "
                "current_database() AS db FROM pg_roles WHERE rolname = current_user"
            )
        )
    ).one()
    if not me.super and me.name != roles.owner:
        raise Forbidden(
            f"Run `salomat db roles` as a PostgreSQL superuser (the first time) or as "
            f"{roles.owner} (after each upgrade); {me.name} is neither."
        )
    done: list[str] = []
    q = session.get_bind().dialect.identifier_preparer.quote
    owner, app, auditor = q(roles.owner), q(roles.app), q(roles.auditor)
    for name, kind in ((roles.owner, "owner"), (roles.app, "app"), (roles.auditor, "auditor")):
        done.append(await _ensure_role(session, name, kind, super_=me.super or me.createrole))
    if me.super:
        done += await _hand_to_owner(session, me.db, roles.owner)
    else:
        left = await _not_owned_by(session, roles.owner)
        if left:
            done.append(
                f"{len(left)} object(s) are not owned by {roles.owner} (e.g. {left[0]}): run "
                "`salomat db roles` once as a superuser to hand them over."
            )
    for member in (roles.app, roles.auditor):
        if await _scalar(
            session,
            "SELECT pg_has_role(:m, :o, 'MEMBER')",
            {"m": member, "o": roles.owner},
        ):
            await session.execute(text(f"REVOKE {owner} FROM {q(member)}"))
            done.append(f"{member}: no longer a member of {roles.owner}")
    tables = set(
        (
            await session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ).scalars()
    )
    statements = [
        f"GRANT CONNECT ON DATABASE {q(me.db)} TO {app}, {auditor}",
        f"GRANT USAGE ON SCHEMA public TO {app}, {auditor}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {auditor}",
    ]
    if "alembic_version" in tables:
        statements += [
            f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {app}",
            f"GRANT SELECT ON alembic_version TO {auditor}",
        ]
    audit = [t for t in AUDIT_TABLES if t in tables]
    if audit:
        listed = ", ".join(audit)
        statements += [
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {listed} FROM {app}",
            f"GRANT SELECT ON {listed} TO {app}, {auditor}",
        ]
    if "audit_event" in tables:
        statements += [
            f"REVOKE INSERT (id, occurred_at) ON audit_event FROM {app}",
            f"GRANT INSERT ({', '.join(APP_INSERTS)}) ON audit_event TO {app}",
        ]
    if "audit_seal" in tables:
        statements.append(f"GRANT INSERT ON audit_seal TO {app}")
    for statement in statements:
        await session.execute(text(statement))
    done.append(
        f"{roles.app}: SELECT, INSERT, UPDATE, DELETE on the tables of the schema (also on "
        "tables later migrations add); on the audit trail SELECT and INSERT only, without "
        "naming id or occurred_at (the database sets them); no TRUNCATE; alembic_version "
        "read-only"
        if audit
        else f"{roles.app}: SELECT, INSERT, UPDATE, DELETE on the tables migrations will add "
        "(the database is not migrated yet: run `salomat db upgrade` as "
        f"{roles.owner}, then `salomat db roles` again to restrict the audit trail)"
    )
    done.append(
        f"{roles.auditor}: SELECT on {', '.join([*audit, 'alembic_version'])} only"
        if audit
        else f"{roles.auditor}: nothing to read yet (the database is not migrated)"
    )
    return done


async def _scalar(session: AsyncSession, sql: str, params: dict[str, Any] | None = None) -> Any:
    return (await session.execute(text(sql), params or {})).scalar()


async def _ensure_role(session: AsyncSession, name: str, kind: str, *, super_: bool) -> str:
    q = session.get_bind().dialect.identifier_preparer.quote(name)
    found = (
        await session.execute(
            text(
                "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication "
                "OR rolbypassrls AS powerful, rolcanlogin AS login "
                "FROM pg_roles WHERE rolname = :n"
            ),
            {"n": name},
        )
    ).first()
    if found is None:
        if not super_:
            raise Forbidden(
                f"The role {name} does not exist: run `salomat db roles` as a superuser first."
            )
        await session.execute(text(f"CREATE ROLE {q} {_ATTRIBUTES}"))
        return (
            f"role {name} ({kind}): created, LOGIN without a password "
            f"(set one: ALTER ROLE {name} PASSWORD '...', or use certificate authentication)"
        )
    if found.powerful or not found.login:
        if not super_:
            raise Forbidden(
                f"The role {name} has rights beyond an ordinary login: run `salomat db roles` "
                "as a superuser to remove them."
            )
        await session.execute(text(f"ALTER ROLE {q} {_ATTRIBUTES}"))
        return f"role {name} ({kind}): existed; made an ordinary login role ({_ATTRIBUTES})"
    return f"role {name} ({kind}): exists, an ordinary login role"


_OBJECTS = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
       quote_ident(c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :owner)
  -- a sequence that belongs to a column follows its table
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
           WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass
             AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 'FUNCTION', p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = :owner)
UNION ALL
SELECT 'TYPE', quote_ident(t.typname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
  AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = :owner)
"""


async def _not_owned_by(session: AsyncSession, owner: str) -> list[str]:
    rows = (await session.execute(text(_OBJECTS), {"owner": owner})).all()
    return [f"{r.kind} {r.name}" for r in rows]


async def _hand_to_owner(session: AsyncSession, database: str, owner: str) -> list[str]:
    q = session.get_bind().dialect.identifier_preparer.quote(owner)
    done = []
    current = await _scalar(
        session,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()",
    )
    if current != owner:
        quoted = session.get_bind().dialect.identifier_preparer.quote(database)
        await session.execute(text(f"ALTER DATABASE {quoted} OWNER TO {q}"))
        done.append(f"database {database}: owner {current} -> {owner}")
    await session.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {q}"))
    await session.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    objects = await _not_owned_by(session, owner)
    for obj in objects:
        await session.execute(text(f"ALTER {obj} OWNER TO {q}"))
    if objects:
        done.append(
            f"{len(objects)} table(s), sequence(s), function(s) and type(s): now owned by {owner}"
        )
    else:
        done.append(f"every object of the schema is owned by {owner}")
    return done
