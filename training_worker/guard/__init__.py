"""The RSafe guard: prompt template, output parser, scoring and inference backends."""

from __future__ import annotations

# Bumped whenever the prompt layout changes; stored on every model and decision.
TEMPLATE_VERSION = "rsafe-1"
