"""Database writes the ORM has no single statement for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql import UpdateQuery


def update_then_insert(*, rows: QuerySet[Any], values: dict[str, Any], obj: Model) -> bool:
    """UPDATE `rows` (at most one row) with `values` and INSERT `obj` only when a row was updated.

    Returns whether it was. Either both writes happen or neither. On PostgreSQL it is one statement,
    a data-modifying CTE, so it costs one round trip where a transaction costs four (BEGIN, UPDATE,
    INSERT, COMMIT); other databases run the two in a transaction. `obj` gets its primary key.
    """
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=rows.db):
            if not rows.update(**values):
                return False
            obj.save(force_insert=True, using=rows.db)
            return True
    query = cast(UpdateQuery, rows.query.chain(UpdateQuery))
    query.add_update_values(values)
    update_sql, update_params = query.get_compiler(rows.db).as_sql()
    return _insert_from(obj=obj, using=rows.db, source=("updated", f"{update_sql} RETURNING 1", list(update_params)))


def insert_unflushed(*, obj: Model, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT `obj` and commit it without waiting for the commit to reach the disk.

    For a row whose writer tells nobody it is kept before some later commit is durable: PostgreSQL
    writes its log in order, so flushing any later commit flushes this one too. On PostgreSQL,
    outside a transaction, it is one statement that turns `synchronous_commit` off for its own
    transaction only (0.4-1.0 ms less than the ORM's INSERT with the wait, after an idle spell:
    bench/README.md). Inside a transaction, or on another database, it is a plain INSERT whose
    commit is the caller's.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        obj.save(force_insert=True, using=using)
        return
    _insert_from(obj=obj, using=using, source=("unflushed", "SELECT set_config('synchronous_commit', 'off', true)", []))


def _insert_from(*, obj: Model, using: str, source: tuple[str, str, list[Any]]) -> bool:
    """INSERT `obj` once for each row the query `source` (name, SQL, parameters) gives, in one statement.

    Returns whether it was inserted; `obj` then has its primary key.
    """
    name, source_sql, source_params = source
    connection = connections[using]
    meta = obj._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    qn = connection.ops.quote_name
    columns = [qn(cast(str, f.column)) for f in fields]  # a concrete field always has its column
    # A SELECT list gives its parameters no column to take a type from, so each is cast to its column's.
    selected = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    statement = (
        f"WITH {name} AS ({source_sql}) "
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {selected} FROM {name} RETURNING {qn(cast(str, meta.pk.column))}"
    )
    params = [*source_params, *(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)]
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = using
    return True


@contextmanager
def one_snapshot(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the reads inside in one read-only transaction that sees one snapshot of the database.

    For figures read by several queries that must agree with each other (a queue's open and done
    counts beside the labels given): under READ COMMITTED each query sees the commits made before
    it, so a label committed between two of them showed in one figure and not the next. On
    PostgreSQL it is REPEATABLE READ; SQLite's transaction is already one snapshot. Inside a
    transaction of the caller's, the reads take that transaction's isolation, which only its
    first statement can set.
    """
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
