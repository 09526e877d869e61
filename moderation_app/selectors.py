from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Avg, BooleanField, Count, DurationField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from config.db import one_snapshot
from config.errors import found_or_404
from config.pagination import newest_first_in_chunks
from moderation_app.keycache import key_cache_get, key_cache_put
from moderation_app.models import ApiKey, ApiKeyEvent, Case, Decision, ReviewItem, ReviewLabel, WebhookDelivery
from training_worker.models import ModelVersion

KEY_PREFIX = "ak_"


def api_key_hash(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_key_token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token (ak_<prefix>_<secret>), else None."""
    if not token.startswith(KEY_PREFIX) or token.count("_") < 2:
        return None
    return token[len(KEY_PREFIX) :].split("_", 1)[0]


def api_key_get_by_token(*, token: str) -> ApiKey | None:
    """The active key a presented token belongs to, or None. Format: ak_<prefix>_<secret>."""
    prefix = api_key_token_prefix(token)
    if prefix is None:
        return None
    key = key_cache_get(prefix=prefix) or api_key_load(prefix=prefix)
    return api_key_match(token_hash=api_key_hash(token), key=key)


def api_key_load(*, prefix: str) -> ApiKey | None:
    """The active key with this prefix from the database, then kept in the cache."""
    # The key's policy and its published version come with it, so a moderation call under the
    # key's own policy looks up nothing more; their texts stay behind (the call needs neither),
    # and so does the webhook secret, which the cache should not hold (deliveries read it anew).
    key = (
        ApiKey.objects.select_related("policy__published_version")
        .defer("policy__published_version__source", "policy__published_version__spec", "webhook_secret")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if key is not None:
        key_cache_put(key=key)
    return key


def api_key_match(*, token_hash: str, key: ApiKey | None) -> ApiKey | None:
    """`key` if the token with this hash (`api_key_hash`) is its own, else None."""
    if key is None or not hmac.compare_digest(key.key_hash, token_hash):
        return None
    return key


def api_key_events(*, api_key: ApiKey) -> QuerySet[ApiKeyEvent]:
    """The key's audit trail, newest first."""
    return ApiKeyEvent.objects.filter(api_key=api_key).select_related("actor")


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("policy", "created_by").order_by("-created_at")


# Query filter name -> the ORM lookup it becomes.
DECISION_FILTERS = {
    "verdict": "verdict",
    "policy": "policy_version__policy__slug",
    "version": "policy_version__number",
    "flagged": "flagged",
    "malformed": "malformed",
    "category": "categories__contains",  # on PostgreSQL; see _in_category
    "status": "status",
    "api_key": "api_key__prefix",
    "webhook": "webhook__status",
    "since": "created_at__gte",
    "until": "created_at__lt",
}


def decision_list(*, api_key: ApiKey | None, filters: dict[str, Any]) -> QuerySet[Decision]:
    """Decisions newest first; an API key sees only its own."""
    decisions = Decision.objects.select_related("policy_version__policy", "model_version", "api_key")
    if api_key is not None:
        decisions = decisions.filter(api_key=api_key)
    for name, lookup in DECISION_FILTERS.items():
        value = filters.get(name)
        if value is None or value == "":
            continue
        decisions = decisions.filter(
            _in_category(value, using=decisions.db) if name == "category" else Q(**{lookup: value})
        )
    return decisions.order_by("-created_at")


def _in_category(code: str, *, using: str) -> Q | RawSQL:
    """Decisions whose categories include `code`. PostgreSQL answers `@>` from the GIN index of
    categories (migration 0009); SQLite's JSON fields have no `contains`, so its JSON1 `json_each`
    reads each list."""
    if connections[using].vendor == "postgresql":
        return Q(categories__contains=[code])
    table = connections[using].ops.quote_name(Decision._meta.db_table)
    sql = f"EXISTS (SELECT 1 FROM json_each({table}.categories) WHERE json_each.value = %s)"
    return RawSQL(sql, [code], output_field=BooleanField())


def decision_get(*, decision_id: str, api_key: ApiKey | None) -> Decision:
    """One decision with everything its detail shows, in one query: callers that poll an async
    decision read it this way, many times each. The policy's text is left out (no detail shows it)."""
    decisions = decision_list(api_key=api_key, filters={}).select_related("webhook", "review_item").defer(*POLICY_TEXT)
    try:
        decision = decisions.filter(pk=decision_id).first()
    except ValidationError:  # not a UUID
        decision = None
    return found_or_404(decision, f"no decision {decision_id}")


# What the API answer of a decision leaves out: the conversation (up to MODERATION_MAX_CHARS), the
# raw output and the policy's text. Reading them back on every synchronous call cost more than the query.
# The policy version's text: the same for every decision under it, and no list, answer or export shows it.
POLICY_TEXT = ("policy_version__source", "policy_version__spec")
ANSWER_DEFERRED = ("messages", "raw_output", *POLICY_TEXT)


def decision_summaries(*, api_key: ApiKey | None, filters: dict[str, Any]) -> QuerySet[Decision]:
    """The decisions `decision_list` gives, with what a row of the list shows (its review item too, in
    the same query) and without the conversation, the raw output or the policy's text."""
    return decision_list(api_key=api_key, filters=filters).select_related("review_item").defer(*ANSWER_DEFERRED)


def decisions_for_export(*, api_key: ApiKey | None, filters: dict[str, Any]) -> Iterator[Decision]:
    """Every decision `decision_list` gives, newest first, with its review item, read a chunk at a
    time (config.pagination.newest_first_in_chunks)."""
    decisions = (
        decision_list(api_key=api_key, filters=filters).select_related("review_item", "webhook").defer(*POLICY_TEXT)
    )
    return newest_first_in_chunks(queryset=decisions)


def decisions_pending_since(*, before: datetime, limit: int) -> list[Decision]:
    """The oldest `limit` decisions still pending that were recorded before `before`.

    Read through the partial index of pending rows, so it costs the same on a table of millions.
    """
    pending = Decision.objects.filter(status=Decision.Status.PENDING, created_at__lt=before)
    return list(pending.select_related("policy_version").order_by("created_at")[:limit])


def decisions_get_many(*, ids: list[Any]) -> list[Decision]:
    """The decisions with these ids that exist, in that order, with everything their API answer shows (one query)."""
    decisions = (
        Decision.objects.select_related("policy_version__policy", "model_version", "review_item")
        .defer(*ANSWER_DEFERRED)
        .filter(pk__in=ids)
    )
    found = {d.pk: d for d in decisions}
    return [found[pk] for pk in ids if pk in found]


def decision_review_labels(*, decision: Decision) -> list[ReviewLabel]:
    """The labels reviewers gave a decision, oldest first (its audit trail of review)."""
    return list(ReviewLabel.objects.filter(item__decision=decision).select_related("reviewer").order_by("created_at"))


def review_labels_visible(*, item: ReviewItem, labels: list[ReviewLabel], viewer_id: int | None) -> list[ReviewLabel]:
    """Which of an item's labels this viewer may read. A second opinion must be independent: until the
    item is done, its labels are shown only to those who gave one (the decision id is on the item the
    second reviewer holds, and any staff role may read the decision). Labels that disagreed are
    settled with both in view, so an escalated item shows them."""
    settled_openly = item.status == ReviewItem.Status.DONE or item.escalated_at is not None
    if settled_openly or any(label.reviewer_id == viewer_id for label in labels):
        return labels
    return []


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Agreement of two raters beyond chance, over (first, second) label pairs.

    >>> cohen_kappa([("safe", "safe"), ("unsafe", "unsafe"), ("safe", "unsafe"), ("safe", "safe")])
    0.5
    >>> cohen_kappa([]) is None
    True
    """
    return cohen_kappa_of_counts(dict(Counter(pairs)))


def cohen_kappa_of_counts(counts: dict[tuple[str, str], int]) -> float | None:
    """Cohen's kappa from how many times each (first, second) pair of labels occurred.

    >>> cohen_kappa_of_counts({("safe", "safe"): 2, ("unsafe", "unsafe"): 1, ("safe", "unsafe"): 1})
    0.5
    """
    n = sum(counts.values())
    if not n:
        return None
    labels = {label for pair in counts for label in pair}
    observed = sum(count for (a, b), count in counts.items() if a == b) / n
    expected = sum(
        sum(c for (a, _), c in counts.items() if a == label) * sum(c for (_, b), c in counts.items() if b == label)
        for label in labels
    ) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def review_label_pair_counts(*, since: datetime | None = None) -> dict[tuple[str, str], int]:
    """How many items with two independent labels (the second given since `since`) got each (first,
    second) pair of verdicts, counted by the database: reading every such item and its labels took
    seconds once there were 20,000. Items whose labels disagreed count as soon as they are escalated,
    not once settled: waiting for the settling label left the open disagreements out of the figure.
    Each second label finds its first by the item and place, through their unique index."""
    seconds = ReviewLabel.objects.filter(position=2)
    if since is not None:
        seconds = seconds.filter(created_at__gte=since)
    first = ReviewLabel.objects.filter(item_id=OuterRef("item_id"), position=1).values("verdict")
    pairs = seconds.annotate(first=Subquery(first)).values_list("first", "verdict").annotate(n=Count("pk")).order_by()
    return {(first, second): n for first, second, n in pairs}


def review_outcomes(*, since: datetime | None = None) -> dict[str, Any]:
    """How the reviewers' verdicts compare with the guard's over the items finished since `since`, in
    all and by review reason, model version and policy. The reviewers' verdict is the item's review
    case, as training reads it (the label the reviewers agreed on, or the one that settled their
    disagreement); a malformed output has no verdict to compare, so it counts as reviewed but not as
    compared."""
    cases = Case.objects.filter(source=Case.Source.REVIEW)
    if since is not None:
        cases = cases.filter(created_at__gte=since)
    # Read from the cases alone (each keeps the guard's verdict, model and the review's reason):
    # joining their decisions read the whole decisions table, 0.4 s a call on a million.
    groups = (
        cases.values_list("review_reason", "guard_model_id", "policy_version__policy__slug", "guard_verdict", "verdict")
        .annotate(n=Count("pk"))
        .order_by()
    )
    model_names = dict(ModelVersion.objects.values_list("pk", "name"))
    total = OutcomeCounts()
    by_reason: dict[str, OutcomeCounts] = {}
    by_model: dict[tuple[int | None, str | None], OutcomeCounts] = {}
    by_policy: dict[str, OutcomeCounts] = {}
    for reason, model_id, policy, guard, reviewer, n in groups:
        for counts in (
            total,
            by_reason.setdefault(reason or "none", OutcomeCounts()),
            by_model.setdefault((model_id, model_names.get(model_id)), OutcomeCounts()),
            by_policy.setdefault(policy, OutcomeCounts()),
        ):
            counts.add(guard=guard, reviewer=reviewer, n=n)
    return {
        **total.as_dict(),
        "by_reason": {reason: counts.as_dict() for reason, counts in sorted(by_reason.items())},
        "by_model": [
            {"id": model_id, "name": name, **counts.as_dict()}
            for (model_id, name), counts in sorted(by_model.items(), key=lambda kv: -kv[1].reviewed)
        ],
        "by_policy": [
            {"slug": slug, **counts.as_dict()}
            for slug, counts in sorted(by_policy.items(), key=lambda kv: -kv[1].reviewed)
        ],
    }


@dataclass
class OutcomeCounts:
    """Reviewed items, those with a guard verdict to compare, and those whose reviewer disagreed.

    >>> counts = OutcomeCounts()
    >>> counts.add(guard="unsafe", reviewer="safe", n=1)
    >>> counts.add(guard="unsafe", reviewer="unsafe", n=3)
    >>> counts.add(guard="", reviewer="unsafe", n=2)
    >>> counts.as_dict()
    {'reviewed': 6, 'compared': 4, 'overturned': 1, 'overturn_rate': 0.25, 'reviewer_unsafe': 5}
    """

    reviewed: int = 0
    compared: int = 0
    overturned: int = 0
    reviewer_unsafe: int = 0

    def add(self, *, guard: str, reviewer: str, n: int) -> None:
        self.reviewed += n
        self.reviewer_unsafe += n if reviewer == "unsafe" else 0
        if guard:
            self.compared += n
            self.overturned += n if guard != reviewer else 0

    def as_dict(self) -> dict[str, Any]:
        rate = self.overturned / self.compared if self.compared else None
        return {
            "reviewed": self.reviewed,
            "compared": self.compared,
            "overturned": self.overturned,
            "overturn_rate": rate,
            "reviewer_unsafe": self.reviewer_unsafe,
        }


def review_stats(*, since: datetime | None = None) -> dict[str, Any]:
    """The queue as it is now, its throughput, and since `since` (all time when None): the reviewers'
    agreement with each other (pairs whose second label came since), their escalations (raised
    since) and their agreement with the guard (items finished since). All from one snapshot, so the
    figures agree with each other while labels are being given."""
    with one_snapshot():
        return _review_stats(since=since)


def _review_stats(*, since: datetime | None) -> dict[str, Any]:
    now = timezone.now()
    waiting = review_waiting(now=now)
    queue = review_queue_counts(now=now)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    pairs = review_label_pair_counts(since=since)
    return {
        "since": since,
        "open": queue["open"],
        "claimed": queue["claimed"],
        "done": ReviewItem.objects.filter(status=ReviewItem.Status.DONE).count(),
        "oldest_open_age_s": (now - oldest).total_seconds() if oldest else None,
        "labels_last_hour": ReviewLabel.objects.filter(created_at__gte=now - timedelta(hours=1)).count(),
        "labels_last_day": ReviewLabel.objects.filter(created_at__gte=now - timedelta(days=1)).count(),
        "by_reason": dict(waiting.values_list("reason").annotate(n=Count("id")).values_list("reason", "n")),
        "agreement": {"pairs": sum(pairs.values()), "cohen_kappa": cohen_kappa_of_counts(pairs)},
        "escalations": {**review_escalation_counts(since=since), "waiting": queue["escalated"]},
        "guard_vs_review": review_outcomes(since=since),
    }


def labels_disagree(*, labels: list[tuple[str, list[str]]]) -> bool:
    """Whether independent labels, as (verdict, categories), differ in verdict or in categories: a
    case trains the categories too, so two unsafe labels naming different ones are no agreement.

    >>> labels_disagree(labels=[("unsafe", ["S1", "S2"]), ("unsafe", ["S2", "S1"])])
    False
    >>> labels_disagree(labels=[("unsafe", ["S1"]), ("safe", [])])
    True
    >>> labels_disagree(labels=[("unsafe", ["S1"]), ("unsafe", ["S1", "S3"])])
    True
    >>> labels_disagree(labels=[("safe", [])])
    False
    """
    return len({(verdict, frozenset(categories)) for verdict, categories in labels}) > 1


def review_reviewer_stats(*, since: datetime | None, reviewer_id: int | None = None) -> list[dict[str, Any]]:
    """Each reviewer's labels given since `since` (all time when None), or one reviewer's: how many,
    how long each took from the claim, how often they agreed with the guard and with a second,
    independent reviewer, and how the escalations they were part of were settled. Busiest first.
    From one snapshot, so the counts and the escalations' outcomes agree while labels are given."""
    with one_snapshot():
        return _reviewer_stats(since=since, reviewer_id=reviewer_id)


def _reviewer_stats(*, since: datetime | None, reviewer_id: int | None) -> list[dict[str, Any]]:
    labels = ReviewLabel.objects.all()
    if since is not None:
        labels = labels.filter(created_at__gte=since)
    if reviewer_id is not None:
        labels = labels.filter(reviewer_id=reviewer_id)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in labels.values("reviewer_id", "reviewer__username")
        .annotate(**_REVIEWER_COUNTS, handle=Avg(F("created_at") - F("claimed_at"), output_field=DurationField()))
        .order_by()
    ]
    rows.sort(key=lambda row: (-row["labels"], row["reviewer__username"]))
    settled = _escalation_outcomes(since=since, reviewer_id=reviewer_id)
    return [_reviewer_figures(row, settled.get(row["reviewer_id"], Counter())) for row in rows]


# One of the two independent labels an escalation compared.
_COMPARED = Q(item__escalated_at__isnull=False, position__lte=2)
_REVIEWER_COUNTS = {
    "labels": Count("pk"),
    "unsafe": Count("pk", filter=Q(verdict="unsafe")),
    # A malformed output has no verdict to agree with.
    "guard_compared": Count("pk", filter=~Q(item__guard_verdict="")),
    "guard_agreed": Count("pk", filter=Q(verdict=F("item__guard_verdict"))),
    # Items with two independent labels, both given: done without an escalation, or escalated.
    "paired": Count(
        "pk",
        filter=Q(position=2)
        | Q(position=1, item__labels_needed__gte=2)
        & (Q(item__status=ReviewItem.Status.DONE) | Q(item__escalated_at__isnull=False)),
    ),
    "disagreed": Count("pk", filter=_COMPARED),
    "settled": Count("pk", filter=Q(position=3)),
}


def _escalation_outcomes(*, since: datetime | None, reviewer_id: int | None) -> dict[int, Counter[str]]:
    """Per reviewer, of their labels given since `since` that an escalation compared and a further
    label has since settled: how many the settling label agreed with (upheld) and how many it did
    not (overruled)."""
    compared = ReviewLabel.objects.filter(_COMPARED)
    if since is not None:
        compared = compared.filter(created_at__gte=since)
    if reviewer_id is not None:
        compared = compared.filter(reviewer_id=reviewer_id)
    settling = ReviewLabel.objects.filter(position=3, item_id__in=compared.values("item_id"))
    settled = {
        item: (verdict, categories)
        for item, verdict, categories in settling.values_list("item_id", "verdict", "categories").order_by()
    }
    outcomes: dict[int, Counter[str]] = {}
    for reviewer, item, verdict, categories in compared.values_list(
        "reviewer_id", "item_id", "verdict", "categories"
    ).order_by():
        if item in settled:
            overruled = labels_disagree(labels=[(verdict, categories), settled[item]])
            outcomes.setdefault(reviewer, Counter())["overruled" if overruled else "upheld"] += 1
    return outcomes


def _reviewer_figures(row: dict[str, Any], settled: Counter[str]) -> dict[str, Any]:
    def rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    handle = row["handle"]
    return {
        "reviewer": {"id": row["reviewer_id"], "username": row["reviewer__username"]},
        "labels": row["labels"],
        "unsafe_rate": rate(row["unsafe"], row["labels"]),
        "mean_handle_s": handle.total_seconds() if handle is not None else None,
        "guard": {
            "compared": row["guard_compared"],
            "agreed": row["guard_agreed"],
            "agreement_rate": rate(row["guard_agreed"], row["guard_compared"]),
        },
        "second_opinions": {
            "paired": row["paired"],
            "agreed": row["paired"] - row["disagreed"],
            "agreement_rate": rate(row["paired"] - row["disagreed"], row["paired"]),
        },
        "escalations": {"settled": row["settled"], "upheld": settled["upheld"], "overruled": settled["overruled"]},
    }


def _claim_expired(now: datetime) -> Q:
    return Q(status=ReviewItem.Status.CLAIMED, claim_expires_at__lt=now)


def review_waiting(*, now: datetime) -> QuerySet[ReviewItem]:
    """Items nobody works on: open, or claimed past the claim's time, which the next claim takes."""
    return ReviewItem.objects.filter(Q(status=ReviewItem.Status.OPEN) | _claim_expired(now))


def review_queue_counts(*, now: datetime) -> dict[str, int]:
    """The queue now: items waiting (expired claims included), under a live claim, and, of those
    waiting, the escalated ones."""
    waiting = review_waiting(now=now)
    return {
        "open": waiting.count(),
        "claimed": ReviewItem.objects.filter(status=ReviewItem.Status.CLAIMED).exclude(_claim_expired(now)).count(),
        "escalated": waiting.filter(escalated_at__isnull=False).count(),
    }


def review_escalation_counts(*, since: datetime | None) -> dict[str, int]:
    """Items whose independent labels disagreed: those escalated since `since`, and those of them
    settled by a further reviewer (those waiting for one are in `review_queue_counts`)."""
    escalated = ReviewItem.objects.filter(escalated_at__isnull=False)
    if since is not None:
        escalated = escalated.filter(escalated_at__gte=since)
    return {"raised": escalated.count(), "settled": escalated.filter(status=ReviewItem.Status.DONE).count()}


def review_skipped_open_count(*, reviewer: Any) -> int:
    """Open items this reviewer skipped within REVIEW_SKIP_MINUTES: their claims pass over them."""
    since = timezone.now() - timedelta(minutes=settings.REVIEW_SKIP_MINUTES)
    return (
        ReviewItem.objects.filter(status=ReviewItem.Status.OPEN, skips__reviewer=reviewer, skips__skipped_at__gte=since)
        .distinct()
        .count()
    )


def review_item_get(*, item_id: int) -> ReviewItem:
    items = ReviewItem.objects.select_related("decision__policy_version__policy", "decision__model_version")
    return found_or_404(items.filter(pk=item_id).first(), f"no review item {item_id}")


def case_list(*, filters: dict[str, Any]) -> QuerySet[Case]:
    cases = Case.objects.select_related("policy_version__policy")
    for field in ("split", "source", "verdict"):
        if filters.get(field):
            cases = cases.filter(**{field: filters[field]})
    return cases.order_by("-created_at", "-id")


def cases_for_export() -> Iterator[Case]:
    """Every case, newest first, read a chunk at a time (config.pagination.newest_first_in_chunks).

    Before, Django's iterator materialized the whole result before its first row, each row with its
    policy version's text (about 18 KB for the default policy), which no export line shows."""
    cases = case_list(filters={}).defer(*POLICY_TEXT)
    return newest_first_in_chunks(queryset=cases)


def case_sample(*, size: int | None) -> list[Case]:
    """Every labelled case, or a stable sample of `size` (ordered by content hash, so reruns agree)."""
    cases = Case.objects.order_by("content_hash", "id")
    return list(cases[:size] if size else cases)


def moderation_backlog() -> dict[str, dict[str, int]]:
    """What waits on the platform now, for /metrics: decisions the guard has not completed, webhook
    callbacks not yet delivered or out of attempts, and review items by state. Each count reads a
    partial or leading index, so a scrape stays cheap however many decisions there are."""
    return {
        "decisions": {"pending": Decision.objects.filter(status=Decision.Status.PENDING).count()},
        "webhooks": {
            status: WebhookDelivery.objects.filter(status=status).count()
            for status in (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED)
        },
        "review_items": review_queue_counts(now=timezone.now()),
    }
