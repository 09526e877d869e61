from __future__ import annotations

from typing import Any

import pytest

from policies_app.models import PolicyVersion
from policies_app.selectors import policy_version_get_by_digest, policy_version_published_list
from policies_app.services import policy_create, policy_ensure_default, policy_version_create, policy_version_publish
from policies_app.tests.test_services import SOURCE

pytestmark = pytest.mark.django_db


def test_a_version_is_read_once_by_its_id_and_digest(django_assert_num_queries: Any) -> None:
    version = policy_ensure_default()[0].published_version
    assert version is not None
    with django_assert_num_queries(1):
        first = policy_version_get_by_digest(version_id=version.pk, sha256=version.sha256)
    with django_assert_num_queries(0):
        again = policy_version_get_by_digest(version_id=version.pk, sha256=version.sha256)
    assert again is first
    assert (first.spec, first.policy.slug) == (version.spec, "core-safety")


def test_an_id_with_another_digest_is_not_answered_from_what_was_read() -> None:
    version = policy_ensure_default()[0].published_version
    assert version is not None
    policy_version_get_by_digest(version_id=version.pk, sha256=version.sha256)
    with pytest.raises(PolicyVersion.DoesNotExist):
        policy_version_get_by_digest(version_id=version.pk, sha256="0" * 64)


def test_the_published_versions_come_newest_first_and_nothing_else() -> None:
    default = policy_ensure_default()[0].published_version
    demo = policy_create(source=SOURCE, message="", actor=None)  # created, never published
    v2 = policy_version_create(policy=demo, source=SOURCE + "description: more\n", message="", actor=None)
    assert policy_version_published_list(limit=8) == [default]

    policy_version_publish(policy=demo, version=v2, actor=None)

    assert policy_version_published_list(limit=8) == [v2, default]
    assert policy_version_published_list(limit=1) == [v2]
