"""The training data set: held-out cases never reach training, prompts are the guard's own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from moderation_app.models import Case
from moderation_app.services.review import case_create
from policies_app.models import PolicyVersion
from policies_app.services import DEFAULT_POLICY_PATH, policy_ensure_default, policy_version_create
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.guard.types import GuardRequest
from training_worker.training.dataset import render_prompt, training_dataset_build
from training_worker.training.weights import load_tokenizer

pytestmark = pytest.mark.django_db


def _case(text: str, verdict: str = "safe", **kwargs: object) -> Case:
    categories = ["S2"] if verdict == "unsafe" else []
    return case_create(
        source=str(kwargs.pop("source", Case.Source.IMPORT)),
        messages=[{"role": "user", "content": text}],
        target="prompt",
        verdict=verdict,
        categories=categories,
        **kwargs,  # type: ignore[arg-type]
    )


def _cases(n: int) -> list[Case]:
    return [_case(f"labelled message number {i}", "unsafe" if i % 3 == 0 else "safe") for i in range(n)]


def test_no_held_out_content_is_ever_trained_on() -> None:
    policy_ensure_default()
    cases = _cases(60)
    # The same content labelled again, stored as "train" although its content is held out elsewhere.
    held = next(c for c in cases if c.split == Case.Split.EVAL)
    relabel = _case(held.messages[0]["content"], "unsafe")
    Case.objects.filter(pk=relabel.pk).update(split=Case.Split.TRAIN)
    dataset = training_dataset_build(since=None, replay_size=0)
    train_hashes = {e.content_hash for e in dataset.train}
    eval_hashes = {e.content_hash for e in dataset.eval}
    assert dataset.train
    assert dataset.eval
    assert not train_hashes & eval_hashes
    assert relabel.pk in {e.case_id for e in dataset.eval}
    assert {e.split for e in dataset.train} == {"train"}
    assert {e.split for e in dataset.eval} == {"eval"}
    assert len(dataset.train) + len(dataset.eval) == 60  # one case per content: the relabel replaces the held one


def test_the_split_is_the_same_in_every_build() -> None:
    policy_ensure_default()
    _cases(40)
    first = training_dataset_build(since=None, replay_size=0, seed=1)
    again = training_dataset_build(since=None, replay_size=0, seed=2)
    assert [e.case_id for e in first.eval] == [e.case_id for e in again.eval]
    assert {e.case_id for e in first.train} == {e.case_id for e in again.train}


def test_new_cases_are_all_taken_and_older_ones_are_replayed_by_a_seeded_sample() -> None:
    policy_ensure_default()
    old = _cases(30)
    cutoff = timezone.now()
    Case.objects.filter(pk__in=[c.pk for c in old]).update(created_at=cutoff - timedelta(days=1))
    new = [_case(f"a newly labelled message {i}") for i in range(12)]
    new_train = {c.pk for c in new if c.split == Case.Split.TRAIN}
    old_train = {c.pk for c in old if c.split == Case.Split.TRAIN}
    dataset = training_dataset_build(since=cutoff, replay_size=5, seed=7)
    ids = [e.case_id for e in dataset.train]
    assert dataset.new_cases == len(new_train)
    assert new_train <= set(ids)
    assert dataset.replay_cases == 5
    replayed = set(ids) - new_train
    assert len(replayed) == 5
    assert replayed <= old_train
    assert replayed == set(ids) - new_train  # nothing else slipped in
    same_seed = training_dataset_build(since=cutoff, replay_size=5, seed=7)
    assert [e.case_id for e in same_seed.train] == ids


def test_a_case_is_rendered_under_its_own_policy_version_and_an_imported_one_under_the_published() -> None:
    policy, _ = policy_ensure_default()
    published = policy.published_version
    assert published is not None
    source = DEFAULT_POLICY_PATH.read_text().replace("title: ", "title: Revised ", 1)
    draft: PolicyVersion = policy_version_create(policy=policy, source=source, message="draft", actor=None)
    draft.refresh_from_db()  # the spec as stored (JSON), as training reads it
    reviewed = _case("judged under the draft", "unsafe", source=Case.Source.REVIEW, policy_version=draft)
    imported = _case("imported without a policy")
    dataset = training_dataset_build(since=None, replay_size=0)
    by_id = {e.case_id: e for e in [*dataset.train, *dataset.eval]}
    assert by_id[reviewed.pk].spec == draft.spec
    assert "Revised" in by_id[reviewed.pk].prompt[0]["content"]
    assert by_id[imported.pk].spec == published.spec
    assert by_id[reviewed.pk].categories == ("S2",)
    assert by_id[reviewed.pk].label == "unsafe"
    assert "S12" in by_id[imported.pk].allowed_codes


def test_without_any_published_policy_imported_cases_are_skipped_and_counted() -> None:
    _cases(5)
    dataset = training_dataset_build(since=None, replay_size=0)
    assert (dataset.train, dataset.eval, dataset.skipped_cases) == ([], [], 5)


def test_the_training_prompt_is_byte_identical_to_the_guards(tiny_model_dir: Path) -> None:
    policy_ensure_default()
    _case("How do I whittle a knife?")
    dataset = training_dataset_build(since=None, replay_size=0)
    (example,) = dataset.train + dataset.eval
    guard = Guard(TransformersBackend(str(tiny_model_dir), device="cpu"))
    request = GuardRequest(spec=example.spec, messages=example.messages, target=example.target)
    assert render_prompt(load_tokenizer(tiny_model_dir), example.prompt) == guard.prompt(request)
