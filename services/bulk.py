"""Bulk writes for the set-based hot paths (import, planning, dispatch).

`bulk_insert`: PostgreSQL COPY, SQLite executemany, values converted once per column instead of
through SQLAlchemy's per-value type processing (which costs more than the database itself at a
million rows). Only for plain inserts of already-validated values.

`update_rows`: many rows, each with its own values, in one UPDATE over unnest() arrays on
PostgreSQL (an executemany sends and executes one statement per row); executemany on SQLite,
where a statement costs no round trip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from operator import itemgetter

from sqlalchemy import JSON, Table, bindparam, cast, func, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection


def _sqlite_datetime(value: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime reads back; stored naive, in UTC.
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


_SQLITE = {
    str: None, int: None, float: None, type(None): None, bool: int,
    datetime: _sqlite_datetime, date: date.isoformat, Decimal: str,
    dict: json.dumps, list: json.dumps,
}


def _sqlite_value(value):
    kind = type(value)
    try:
        convert = _SQLITE[kind]
    except KeyError:
        if isinstance(value, Enum):
            return value.value
        raise TypeError(f"bulk insert: no SQLite conversion for {kind.__name__}") from None
    return value if convert is None else convert(value)


def _defaults(table: Table, columns: Sequence[str]) -> dict[str, object]:
    """Scalar Python-side defaults of the columns a caller left out."""
    out = {}
    for col in table.columns:
        if col.name in columns or col.primary_key:
            continue
        if col.default is not None and col.default.is_scalar:
            out[col.name] = col.default.arg
        elif not col.nullable and col.server_default is None:
            raise ValueError(f"bulk insert into {table.name}: no value for {col.name}")
    return out


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict]) -> None:
    """Insert `rows` (dicts with the same keys) into `table` inside the caller's transaction."""
    if not rows:
        return
    given = list(rows[0])
    pick = itemgetter(*given)
    bulk_insert_rows(conn, table, given, [pick(row) for row in rows] if len(given) > 1 else [(pick(row),) for row in rows])


def bulk_insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert `rows` (tuples of values in the order of `columns`) into `table` inside the
    caller's transaction; the hot paths build tuples directly instead of a dict per row."""
    if not rows:
        return
    given = list(columns)
    defaults = _defaults(table, given)
    columns = given + list(defaults)
    if conn.dialect.name == "postgresql":
        # psycopg adapts str enums, Decimal, date and aware datetimes itself; only JSON
        # columns need encoding.
        json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
        raw = conn.connection.driver_connection
        cols = ", ".join(f'"{c}"' for c in columns)
        encode = [c in json_cols for c in given]
        tail = tuple(json.dumps(v) if c in json_cols else v for c, v in defaults.items())
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            write = copy.write_row
            if any(encode):
                for row in rows:
                    write([json.dumps(v) if e else v for v, e in zip(row, encode)] + list(tail))
            elif tail:
                for row in rows:
                    write((*row, *tail))
            else:
                for row in rows:
                    write(row)
        return
    defaults_sql = [_sqlite_value(v) for v in defaults.values()]
    placeholders = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({placeholders})'
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, [[_sqlite_value(v) for v in row] + defaults_sql for row in rows])
    finally:
        cursor.close()


def update_rows(session, table: Table, rows: Sequence[dict], *, where=(), values=None) -> int:
    """For each row (dicts with the same keys, "id" among them): UPDATE `table` SET the row's other
    keys and `values` (the same for every row) WHERE id = row["id"] AND every `where` clause.
    Inside the caller's transaction; returns the number of rows updated."""
    if not rows:
        return 0
    names = [name for name in rows[0] if name != "id"]
    fixed = dict(values or {})
    if session.get_bind().dialect.name == "postgresql":
        arrays = [
            cast(bindparam(f"u_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type)),
                 ARRAY(table.c[name].type))
            for name in ["id", *names]
        ]
        given = func.unnest(*arrays).table_valued("id", *names).render_derived(name="given")
        stmt = (update(table).where(table.c.id == given.c.id, *where)
                .values({**{name: given.c[name] for name in names}, **fixed}))
        return session.execute(stmt, execution_options={"synchronize_session": False}).rowcount
    stmt = (update(table).where(table.c.id == bindparam("u_id"), *where)
            .values({**{name: bindparam(f"u_{name}") for name in names}, **fixed}))
    params = [{f"u_{name}": value for name, value in row.items()} for row in rows]
    return session.connection().execute(stmt, params).rowcount


def one_of(session, column, values):
    """`column IN values` for thousands of values: one array parameter on PostgreSQL
    (`= ANY(:values)`, planned once, instead of thousands of placeholders), IN elsewhere."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
