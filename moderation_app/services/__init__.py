"""Writes of the moderation app, one module per idea; import them from here."""

from __future__ import annotations

from moderation_app.services.accounts import (
    api_key_create,
    api_key_revoke,
    api_key_rotate_webhook_secret,
    api_key_touch,
    api_key_update,
    user_ensure_demo_admin,
)
from moderation_app.services.cases import (
    ImportReport,
    case_export_line,
    case_import_version,
    cases_import,
    parse_case_rows,
)
from moderation_app.services.decisions import (
    ModerationInput,
    decision_complete,
    decision_record,
    decisions_defer,
    decisions_enqueue_batch,
    decisions_persist,
    decisions_recover_lost,
    moderation_request_hash,
)
from moderation_app.services.review import (
    case_create,
    case_split,
    review_claim_next,
    review_item_build,
    review_label,
    review_release,
)

__all__ = [
    "ImportReport",
    "ModerationInput",
    "api_key_create",
    "api_key_revoke",
    "api_key_rotate_webhook_secret",
    "api_key_touch",
    "api_key_update",
    "case_create",
    "case_export_line",
    "case_import_version",
    "case_split",
    "cases_import",
    "decision_complete",
    "decision_record",
    "decisions_defer",
    "decisions_enqueue_batch",
    "decisions_persist",
    "decisions_recover_lost",
    "moderation_request_hash",
    "parse_case_rows",
    "review_claim_next",
    "review_item_build",
    "review_label",
    "review_release",
    "user_ensure_demo_admin",
]
