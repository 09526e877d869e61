"""Paging for lists that grow without bound (the decisions a service's traffic writes).

Limit/offset paging costs two things that grow with the table: an exact COUNT of every row the
filters match, and an OFFSET that reads and drops every row before the page. On a million decisions
they took 0.16-0.3 s and 1.8 s (at offset 900,000) per page (bench/decision_list.py). Keyset paging
reads from where the last page ended, through the index the list is ordered by, and the count stops
at a cap, so a page costs the same on the first page as on the thousandth and on a big table as on a
small one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

MAX_PAGE_SIZE = 500

PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a `next` or `previous` link; none: the newest page."),
    OpenApiParameter("limit", int, description=f"Rows per page (default 50, at most {MAX_PAGE_SIZE})."),
    OpenApiParameter("offset", int, deprecated=True, description="Limit/offset paging with an exact count, as before."),
]


def page_schema(*, name: str, item: type[serializers.BaseSerializer[Any]]) -> serializers.Serializer[Any]:
    """The OpenAPI shape of a `KeysetPagination` page of `item`."""
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


def newest_first_in_chunks(*, queryset: QuerySet[Any], chunk_size: int = 1000) -> Iterator[Any]:
    """Every row of `queryset`, newest first (`-created_at`, then `-pk`), read `chunk_size` at a time,
    each chunk from where the last one ended.

    For exports of a whole table. Each chunk is a short query of its own through the `created_at`
    index, so a long export holds no transaction open and no server-side cursor: Django declares an
    iterator's cursor `WITH HOLD` outside a transaction, and PostgreSQL then computes the whole result
    before it sends the first row (27-43 s for a million decisions, bench/decision_list.py).
    """
    ordered = queryset.order_by("-created_at", "-pk")
    rows = list(ordered[:chunk_size])
    while rows:
        yield from rows
        if len(rows) < chunk_size:
            return
        last = rows[-1]
        # A range on created_at (which the index serves), less the rows of the last one's instant
        # already sent: an OR of the two conditions would make PostgreSQL walk the index from the top.
        after = ordered.filter(created_at__lte=last.created_at).exclude(created_at=last.created_at, pk__gte=last.pk)
        rows = list(after[:chunk_size])


def queryset_count_capped(*, queryset: QuerySet[Any], cap: int) -> tuple[int, bool]:
    """How many rows `queryset` holds, counting no further than `cap`: (count, exact).

    One query, `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, which stops reading at the cap.
    """
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return (found, True) if found <= cap else (cap, False)


class KeysetPagination(CursorPagination):
    """Cursor paging newest first, with a count that stops at `count_cap`.

    The answer is `{count, count_exact, next, previous, results}`: `next` leads to older rows and
    `previous` to newer ones, each a URL with an opaque `cursor`. `count` is exact when
    `count_exact` is true and a lower bound otherwise. A request with `offset` (and no `cursor`) is
    paged by limit/offset as before, for clients that build offsets themselves; its `count` is exact.
    """

    ordering = "-created_at"
    page_size_query_param = "limit"
    max_page_size = MAX_PAGE_SIZE

    def __init__(self, *, count_cap: int) -> None:
        self.count_cap = count_cap
        self.offset_paging: LimitOffsetPagination | None = None
        self.queryset: QuerySet[Any] | None = None

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:  # type: ignore[override]
        if "offset" in request.query_params and self.cursor_query_param not in request.query_params:
            self.offset_paging = LimitOffsetPagination()
            self.offset_paging.max_limit = MAX_PAGE_SIZE
            return self.offset_paging.paginate_queryset(queryset, request, view)
        self.queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise serializers.ValidationError(
                {self.cursor_query_param: ["This cursor is not one this list gave; start again from the first page."]}
            ) from None

    def get_paginated_response(self, data: Any) -> Response:
        if self.offset_paging is not None:
            answer = self.offset_paging.get_paginated_response(data)
            answer.data["count_exact"] = True
            return answer
        assert self.queryset is not None
        count, exact = queryset_count_capped(queryset=self.queryset, cap=self.count_cap)
        return Response(
            {
                "count": count,
                "count_exact": exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


def paged_response(*, rows: QuerySet[Model], request: Request, view: Any, serializer: Any, count_cap: int) -> Response:
    """One page of `rows` (ordered by `-created_at`) rendered with `serializer`."""
    paginator = KeysetPagination(count_cap=count_cap)
    page = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)
