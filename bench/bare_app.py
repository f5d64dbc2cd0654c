"""The API benchmark's same-run baselines: the least an endpoint can cost here.

    python -m bench.bare_app --port 8123     # SALOMAT_DATABASE_URL names the database

Served exactly as ``salomat serve`` serves Salomat (one uvicorn worker, the
same loop and HTTP implementation chosen by uvicorn, no access log, no
server header), and on the same SQLAlchemy async engine configuration
(``salomat.core.db.get_engine``), so what the real routes add over these two
is what Salomat costs:

``GET /hello``
    A constant JSON answer: the floor for a read.
``GET /read/{id}``
    One ``person`` row by primary key, in one transaction, as JSON: the floor
    for a read that touches the database. No authentication, no scope check,
    no audit row, no codes.
``POST /insert``
    The registration's JSON body, unvalidated, inserted as one ``person`` row
    in one transaction, committed: the floor for a durable write. No
    duplicate check, no audit, no version row, no attachment.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import text

INSERT = text(
    "INSERT INTO person (national_id, family_name, given_name, birth_date, sex, version, "
    "created_at, updated_at, name_script, name_key, family_key) VALUES (:national_id, "
    ":family_name, :given_name, :birth_date, :sex, 1, :now, :now, 'latn', :name_key, "
    ":family_key) RETURNING id"
)

READ = text(
    "SELECT id, national_id, family_name, given_name, patronymic, birth_date, sex, "
    "settlement_id, attached_facility_id, section_id, version FROM person WHERE id = :id"
)


def create_app() -> FastAPI:
    from salomat.core.db import session_factory

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/read/{person_id}")
    async def read(person_id: int) -> dict[str, Any]:
        async with session_factory()() as session:
            row = (await session.execute(READ, {"id": person_id})).mappings().first()
            await session.commit()
        found = dict(row or {})
        return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in found.items()}

    @app.post("/insert", status_code=201)
    async def insert(request: Request) -> dict[str, Any]:
        body = await request.json()
        family, given = body["family_name"], body["given_name"]
        async with session_factory()() as session:
            new_id = await session.scalar(
                INSERT,
                {
                    "national_id": body.get("national_id"),
                    "family_name": family,
                    "given_name": given,
                    "birth_date": date.fromisoformat(body["birth_date"]),
                    "sex": body["sex"],
                    "now": datetime.now(UTC),
                    "name_key": f"{family} {given}".lower(),
                    "family_key": family.lower(),
                },
            )
            await session.commit()
        return {"id": new_id}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    # the same arguments as `salomat serve` (src/salomat/cli.py)
    uvicorn.run(
        "bench.bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
        server_header=False,
    )


if __name__ == "__main__":
    main()
