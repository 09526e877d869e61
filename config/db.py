"""Database writes the ORM has no single statement for."""

from __future__ import annotations

from typing import Any, cast

from django.db import connections, transaction
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
    meta = obj._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    qn = connection.ops.quote_name
    columns = [qn(cast(str, f.column)) for f in fields]  # a concrete field always has its column
    # A SELECT list gives its parameters no column to take a type from, so each is cast to its column's.
    selected = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    statement = (
        f"WITH updated AS ({update_sql} RETURNING 1) "
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {selected} FROM updated RETURNING {qn(cast(str, meta.pk.column))}"
    )
    params = [*update_params, *(f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields)]
    with transaction.mark_for_rollback_on_error(using=rows.db), connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = rows.db
    return True
