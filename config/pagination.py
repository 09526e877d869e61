"""Paging for lists that grow without bound (the decisions a service's traffic writes).

Limit/offset paging costs two things that grow with the table: an exact COUNT of every row the
filters match, and an OFFSET that reads and drops every row before the page. On a million decisions
they took 0.04-0.2 s and 2-3.8 s (at offset 900,000) per page (bench/decision_list.py). Keyset paging
reads from where the last page ended, through the index the list is ordered by, and the count stops
at a cap, so a page costs the same on the first page as on the thousandth and on a big table as on a
small one.

Rows are ordered newest first by (`created_at`, primary key), and a position is that pair, so rows
that share a timestamp (a bulk import, a backfill) are neither repeated nor skipped.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

NEWEST_FIRST = ("-created_at", "-pk")
OLDER, NEWER = "o", "n"
BAD_CURSOR = "This cursor is not one this list gave; start again from the first page."

MAX_PAGE_SIZE = 500

PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a `next` or `previous` link; none: the newest page."),
    OpenApiParameter("limit", int, description=f"Rows per page (default 50, at most {MAX_PAGE_SIZE})."),
    OpenApiParameter("offset", int, deprecated=True, description="Limit/offset paging with an exact count, as before."),
]


def page_schema(*, name: str, item: type[serializers.BaseSerializer[Any]]) -> serializers.Serializer[Any]:
    """The OpenAPI shape of a `paged_response` page of `item`."""
    schema: serializers.Serializer[Any] = inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(help_text="Exact when count_exact; otherwise at least this many."),
            "count_exact": serializers.BooleanField(),
            "next": serializers.URLField(allow_null=True, help_text="Older rows."),
            "previous": serializers.URLField(allow_null=True, help_text="Newer rows."),
            "results": item(many=True),
        },
    )
    return schema


def older_than(queryset: QuerySet[Any], *, created_at: datetime, pk: Any) -> QuerySet[Any]:
    """The rows after (created_at, pk) in newest-first order.

    A range on created_at, which its index serves, less the rows of that instant already seen: an OR
    of the two conditions would make PostgreSQL walk the index from the newest row.
    """
    return queryset.filter(created_at__lte=created_at).exclude(created_at=created_at, pk__gte=pk)


def newer_than(queryset: QuerySet[Any], *, created_at: datetime, pk: Any) -> QuerySet[Any]:
    """The rows before (created_at, pk) in newest-first order."""
    return queryset.filter(created_at__gte=created_at).exclude(created_at=created_at, pk__lte=pk)


def newest_first_in_chunks(*, queryset: QuerySet[Any], chunk_size: int = 1000) -> Iterator[Any]:
    """Every row of `queryset`, newest first, read `chunk_size` at a time, each chunk from where the
    last one ended.

    For exports of a whole table. Each chunk is a short query of its own through the `created_at`
    index, so a long export holds no transaction open and no server-side cursor: Django declares an
    iterator's cursor `WITH HOLD` outside a transaction, and PostgreSQL then computes the whole result
    before it sends the first row (30 s for a million decisions, bench/decision_list.py).
    """
    ordered = queryset.order_by(*NEWEST_FIRST)
    rows = list(ordered[:chunk_size])
    while rows:
        yield from rows
        if len(rows) < chunk_size:
            return
        rows = list(older_than(ordered, created_at=rows[-1].created_at, pk=rows[-1].pk)[:chunk_size])


def first_chunk_read(rows: Iterator[Any]) -> Iterator[Any]:
    """`rows` with its first chunk's query already run: for a streamed answer, so that a failing query
    is an error answer, not a 200 whose body stops after its first line."""
    return itertools.chain(list(itertools.islice(rows, 1)), rows)


def queryset_count_capped(*, queryset: QuerySet[Any], cap: int) -> tuple[int, bool]:
    """How many rows `queryset` holds, counting no further than `cap`: (count, exact).

    One query, `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, which stops reading at the cap.
    """
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return (found, True) if found <= cap else (cap, False)


def cursor_encode(*, direction: str, row: Any) -> str:
    position = {"d": direction, "t": row.created_at.isoformat(), "k": str(row.pk)}
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def cursor_decode(text: str) -> tuple[str, datetime, str]:
    """(direction, created_at, pk) of a cursor this module wrote; a 400 naming `cursor` otherwise."""
    try:
        position = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        direction, created_at, pk = position["d"], parse_datetime(position["t"]), str(position["k"])
    except (binascii.Error, ValueError, TypeError, KeyError):
        created_at = None
    if created_at is None or direction not in (OLDER, NEWER):
        raise serializers.ValidationError({"cursor": [BAD_CURSOR]})
    return direction, created_at, pk


# PostgreSQL's LIMIT and OFFSET are bigints: a larger number is a database error, not an empty page.
BIGINT_MAX = 2**63 - 1


def query_number(request: Request, name: str, *, default: int, minimum: int, maximum: int = BIGINT_MAX) -> int:
    """A whole-number query parameter; a 400 naming it when it is not one, or below `minimum`."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = minimum - 1
    if not minimum <= number <= BIGINT_MAX:
        raise serializers.ValidationError({name: [f"Must be a whole number from {minimum} to {maximum}."]})
    return min(number, maximum)


def _page_size(request: Request, default: int) -> int:
    return query_number(request, "limit", default=default, minimum=1, maximum=MAX_PAGE_SIZE)


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset paging whose `limit` and `offset` must be whole numbers (DRF's own ignores a bad
    one, and sends one past a bigint to the database, which fails). A limit is capped at `max_limit`."""

    max_limit = 100_000

    def get_limit(self, request: Request) -> int:
        return query_number(request, "limit", default=self.default_limit or 50, minimum=1, maximum=self.max_limit)

    def get_offset(self, request: Request) -> int:
        return query_number(request, "offset", default=0, minimum=0)


def keyset_page(*, queryset: QuerySet[Any], cursor: str | None, size: int) -> tuple[list[Any], bool, bool]:
    """One page newest first: (rows, whether older rows follow, whether newer rows precede)."""
    if cursor is None:
        rows = list(queryset.order_by(*NEWEST_FIRST)[: size + 1])
        return rows[:size], len(rows) > size, False
    direction, created_at, pk = cursor_decode(cursor)
    try:
        pk = queryset.model._meta.pk.to_python(pk)
    except DjangoValidationError:
        raise serializers.ValidationError({"cursor": [BAD_CURSOR]}) from None
    if direction == OLDER:
        rows = list(older_than(queryset, created_at=created_at, pk=pk).order_by(*NEWEST_FIRST)[: size + 1])
        return rows[:size], len(rows) > size, True
    rows = list(newer_than(queryset, created_at=created_at, pk=pk).order_by("created_at", "pk")[: size + 1])
    return rows[:size][::-1], True, len(rows) > size


def paged_response(
    *, rows: QuerySet[Model], request: Request, view: Any, serializer: Any, count_cap: int, default_size: int = 50
) -> Response:
    """One page of `rows`, newest first, rendered with `serializer`, as
    `{count, count_exact, next, previous, results}`.

    `next` leads to older rows and `previous` to newer ones, each a URL with an opaque `cursor`.
    `count` is exact when `count_exact` is true and a lower bound otherwise. A request with `offset`
    (and no `cursor`) is paged by limit/offset as before, for clients that build offsets themselves:
    its count is exact and its limit is capped at 100,000 rows.
    """
    if "offset" in request.query_params and "cursor" not in request.query_params:
        offset_paging = StrictLimitOffsetPagination()
        page = offset_paging.paginate_queryset(rows.order_by(*NEWEST_FIRST), request, view=view)
        answer = offset_paging.get_paginated_response(serializer(page, many=True).data)
        answer.data["count_exact"] = True
        return answer
    found, older, newer = keyset_page(
        queryset=rows, cursor=request.query_params.get("cursor"), size=_page_size(request, default_size)
    )
    count, exact = queryset_count_capped(queryset=rows, cap=count_cap)
    here = remove_query_param(request.build_absolute_uri(), "offset")

    def link(direction: str, row: Any) -> str:
        return str(replace_query_param(here, "cursor", cursor_encode(direction=direction, row=row)))

    return Response(
        {
            "count": count,
            "count_exact": exact,
            "next": link(OLDER, found[-1]) if older and found else None,
            "previous": link(NEWER, found[0]) if newer and found else None,
            "results": serializer(found, many=True).data,
        }
    )
