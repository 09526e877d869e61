from __future__ import annotations

import threading

import pytest
from django.db import connection

from config.errors import ApiError
from policies_app.models import Policy, PolicyEvent
from policies_app.services import (
    DEFAULT_POLICY_PATH,
    policy_create,
    policy_ensure_default,
    policy_version_create,
    policy_version_publish,
    source_sha256,
)

SOURCE = """id: demo
title: Demo
categories:
  - {code: S1, name: Violence, description: Violent content.}
"""


@pytest.mark.django_db
def test_it_numbers_versions_and_refuses_an_unchanged_source() -> None:
    policy = policy_create(source=SOURCE, message="first", actor=None)
    second = policy_version_create(policy=policy, source=SOURCE.replace("Demo", "Demo 2"), message="", actor=None)
    assert second.number == 2
    assert second.parent is not None
    assert second.parent.number == 1
    assert second.sha256 == source_sha256(SOURCE.replace("Demo", "Demo 2"))
    policy.refresh_from_db()
    assert policy.title == "Demo 2"
    with pytest.raises(ApiError, match="identical to version 2"):
        policy_version_create(policy=policy, source=SOURCE.replace("Demo", "Demo 2"), message="", actor=None)


@pytest.mark.django_db
def test_it_rejects_an_invalid_source_with_line_numbers() -> None:
    with pytest.raises(ApiError) as caught:
        policy_create(source="id: demo\ntitle: Demo\ncategoriez: []\n", message="", actor=None)
    assert caught.value.errors is not None
    assert {(e["line"], e["path"]) for e in caught.value.errors} == {(1, ""), (3, "categoriez")}
    assert not Policy.objects.exists()


@pytest.mark.django_db
def test_publishing_an_older_version_is_recorded_as_a_rollback() -> None:
    policy = policy_create(source=SOURCE, message="", actor=None)
    v2 = policy_version_create(policy=policy, source=SOURCE + "description: more\n", message="", actor=None)
    v1 = policy.versions.get(number=1)
    policy_version_publish(policy=policy, version=v2, actor=None)
    policy_version_publish(policy=policy, version=v1, actor=None, note="v2 flagged too much")
    kinds = list(PolicyEvent.objects.filter(policy=policy).order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "version_created", "version_created", "published", "rolled_back"]
    policy.refresh_from_db()
    assert policy.published_version == v1


@pytest.mark.django_db
def test_the_default_policy_loads_once() -> None:
    first, created = policy_ensure_default()
    again, created_again = policy_ensure_default()
    assert (created, created_again) == (True, False)
    assert first == again
    assert first.published_version is not None
    assert first.published_version.source == DEFAULT_POLICY_PATH.read_text()
    assert len(first.published_version.categories) == 12


@pytest.mark.django_db(transaction=True)
def test_versions_saved_at_the_same_moment_get_distinct_numbers() -> None:
    policy = policy_create(source=SOURCE, message="", actor=None)
    barrier = threading.Barrier(4)
    numbers: list[int] = []
    failures: list[BaseException] = []

    def save(index: int) -> None:
        try:
            barrier.wait()
            version = policy_version_create(
                policy=policy, source=SOURCE + f"description: writer {index}\n", message="", actor=None
            )
            numbers.append(version.number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(numbers) == [2, 3, 4, 5]
