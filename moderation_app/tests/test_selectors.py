from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from moderation_app.apis.moderation import DecisionOutputSerializer
from moderation_app.selectors import decisions_get_many
from moderation_app.tests.factories import judged_decision


@pytest.mark.django_db
def test_it_reads_decisions_back_with_their_whole_answer_in_one_query(django_assert_num_queries: Any) -> None:
    flagged = judged_decision(verdict="unsafe", score=0.9, text="flagged one")
    safe = judged_decision(verdict="safe", score=0.01, text="x " * 16_000)
    with django_assert_num_queries(1):
        answers = [DecisionOutputSerializer(d).data for d in decisions_get_many(ids=[safe.pk, flagged.pk])]
    assert [a["id"] for a in answers] == [str(safe.pk), str(flagged.pk)]
    assert answers[1]["review"] == {"status": "open", "reason": "flagged"}
    assert answers[1]["policy"]["slug"] == flagged.policy_version.policy.slug
    assert flagged.model_version is not None
    assert answers[1]["model"]["name"] == flagged.model_version.name


@pytest.mark.django_db
def test_it_leaves_the_conversation_and_the_policy_text_out_of_the_read_back() -> None:
    decision = judged_decision(verdict="safe", score=0.01, text="a conversation the answer does not show")
    with CaptureQueriesContext(connection) as queries:
        decisions_get_many(ids=[decision.pk])
    (select,) = queries.captured_queries
    for column in ('"moderation_app_decision"."messages"', '"policies_app_policyversion"."source"'):
        assert column not in select["sql"]
    assert '"moderation_app_decision"."verdict"' in select["sql"]
