from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management import call_command


def test_the_openapi_document_builds_without_warnings_and_describes_each_body_and_api_keys(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))  # raises on any warning
    document = yaml.safe_load(out.read_text())

    def body(path: str) -> dict[str, Any]:
        ref: str = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return component

    # Each view's own `InputSerializer` is its own component, not one shared by name.
    batch = body("/api/v1/moderate/batch")
    assert set(batch["properties"]) == {"items", "async"}
    item = document["components"]["schemas"][batch["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert "async" not in item["properties"]  # the batch's own `async` decides; an item has none
    answer = document["paths"]["/api/v1/moderate/batch"]["post"]["responses"]["200"]["content"]["application/json"]
    assert set(document["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]) == {
        "results"
    }
    assert "input" in body("/v1/moderations")["properties"]
    assert "rate_limit_per_minute" in body("/api/v1/api-keys/")["properties"]
    # Services call with a bearer API key, and the document says so.
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert {"ApiKey": []} in document["paths"]["/api/v1/moderate"]["post"]["security"]
