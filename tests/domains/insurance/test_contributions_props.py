"""The payment-file reader under any input (hypothesis): a file is either read into lines
or refused naming the file, and each line either parses or names its wrong fields; never
another exception. Through the API garbage answers 4xx, never 5xx. And a 10,000-line file
is taken in a few dozen statements, not one per line."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from salomat.core.errors import FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.insurance.service import contributions
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401

COLUMNS = ["payer", "national_id", "month", "amount", "paid_on", "kind"]
cell = st.one_of(
    st.text(max_size=14),
    st.sampled_from(["2024-05", "2024-13", "-5", "1e9", "NaN", "4250.00", "2024-02-30", ""]),
)


def _read(data: bytes) -> None:
    refused: list[FieldError] | None = None
    try:
        rows = contributions.read_payment_csv(data)
    except Invalid as e:
        refused = e.errors
    if refused is not None:
        assert refused
        assert all(err.field == "file" for err in refused)
        return
    assert rows
    for n, row in rows:
        errors: list[FieldError] = []
        line = contributions._parse(n, row, errors)
        assert all(err.field.startswith(f"lines.{n}.") for err in errors)
        if not errors:
            assert line.amount is not None
            assert line.amount > 0
            assert line.month is not None
            assert line.month.day == 1
            assert line.paid_on is not None


@pytest.mark.no_db
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused(data: bytes) -> None:
    _read(data)


@pytest.mark.no_db
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(cell, min_size=0, max_size=7), min_size=0, max_size=6),
    st.sampled_from([",", ";"]),
)
def test_any_table_under_the_header_is_read_or_refused(rows, sep) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, delimiter=sep)
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(r)
    _read(out.getvalue().encode("utf-8", "surrogatepass"))


@pytest.mark.anyio
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=st.binary(max_size=200))
async def test_garbage_through_the_api_is_never_a_server_error(client, fund, body) -> None:  # noqa: F811
    r = await client.post("/api/v1/insurance/payment-files", content=body, headers=fund.headers)
    assert r.status_code in (200, 201, 422), r.text
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=b"payer,national_id,month,amount,paid_on\n" + body,
        headers=fund.headers,
    )
    assert r.status_code in (200, 201, 422), r.text


@pytest.mark.anyio
async def test_ten_thousand_lines_take_a_few_dozen_statements(fund, db) -> None:  # noqa: F811
    people = [fund.worker_nid, fund.own_nid]
    for k in range(3):
        people.append((await fund.person(date(1970 + k, 3, 3), "male"))[1])
    emp = fund.employer["code"]
    lines = []
    for i in range(10_000):
        nid = people[i % len(people)]
        year, month = 2000 + i // 12 // len(people) % 24, i // len(people) % 12 + 1
        lines.append(f"{emp},{nid},{year}-{month:02d},{100 + i}.00,2024-12-31,employer")
    body = csv_of(*lines, header="payer,national_id,month,amount,paid_on,kind")
    principal = Principal(user_id=fund.analyst.id, username=fund.analyst.username,
                          role="insurance_analyst", session_id="t")  # fmt: skip
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = await contributions.import_payment_file(db, principal, body, "big.csv")
        await db.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.lines == 10_000
    assert result.added + result.duplicates == 10_000
    assert len(statements) < 60, len(statements)
