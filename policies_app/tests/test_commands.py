from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from policies_app.models import Policy

SOURCE = """id: demo
title: Demo
categories:
  - {code: S1, name: Violence, description: Violent content.}
"""


def _policy(*args: str) -> str:
    out = io.StringIO()
    call_command("policy", *args, stdout=out)
    return out.getvalue()


def test_validate_prints_file_and_line_and_exits_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(SOURCE)
    bad.write_text(SOURCE.replace("code: S1", "code: s1"))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("policy", "validate", str(good), str(bad), stdout=out)
    assert exited.value.code == 1
    assert out.getvalue().startswith(f"{bad}:4: categories[0].code: ")
    assert str(good) not in out.getvalue()
    assert _policy("validate", str(good)) == "1 file(s) valid\n"


@pytest.mark.django_db
def test_push_then_pull_round_trips_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(SOURCE)
    assert _policy("push", str(path), "--publish", "-m", "first").splitlines() == [
        f"demo: saved version 1 ({hashlib.sha256(SOURCE.encode()).hexdigest()[:12]})",
        "demo: published version 1",
    ]
    changed = SOURCE + "description: |\n  Trailing spaces stay.  \n"
    path.write_text(changed)
    assert "saved version 2" in _policy("push", str(path))
    pulled = _policy("pull", "demo")
    assert hashlib.sha256(pulled.encode()).hexdigest() == hashlib.sha256(changed.encode()).hexdigest()
    assert _policy("pull", "demo", "--version", "1") == SOURCE
    assert "+description: |" in _policy("diff", "demo", "1", "2")
    listed = _policy("list")
    assert listed.split()[:5] == ["demo", "latest", "2", "published", "1"]
    assert Policy.objects.get(slug="demo").published_version.number == 1  # type: ignore[union-attr]
