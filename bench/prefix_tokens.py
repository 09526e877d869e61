"""What tokenizing the policy prefix once saves the guard, both ways on one model in one process.

The guard's backends tokenize a policy's shared prefix once (`training_worker/guard/backends/tokens.py`).
This script loads one backend and judges the same prompts with reasoning `none`, alternating, in
`--rounds` rounds, between:
- `remembered`: the backend as it is, the prefix's ids remembered;
- `whole`: every text tokenized whole, as before the change.

Each round judges the prompts in groups of `--batch` (items/s) and the first `--single-n` of them
one at a time (p50 latency). The JSON reports the largest score gap between the two, and between two rounds of one mode.

    .venv/bin/python bench/prefix_tokens.py --backend vllm
    .venv/bin/python bench/prefix_tokens.py --backend transformers --batch 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from guard_throughput import (
    DATA_CSV,
    DEFAULT_MODEL,
    WARMUP_PROMPTS,
    ensure_model,
    json_stdout,
    load_items,
    load_spec,
    machine_info,
    make_request,
)

from training_worker.guard.engine import Guard
from training_worker.guard.types import GuardRequest


class WholeTexts:
    """The tokenizer as before the change: every text tokenized whole, the prefix ignored."""

    def __init__(self, backend: Any) -> None:
        self._encode = backend._ids

    def ids(self, text: str, *, prefix: str | None = None) -> list[int]:
        return list(self._encode(text))

    def splits(self, text: str, *, prefix: str) -> bool:
        return text.startswith(prefix)  # the transformers backend then reused any prefix it was given


def load_backend(name: str, model: Path) -> Any:
    if name == "vllm":
        from training_worker.guard.backends.vllm_backend import VllmBackend

        return VllmBackend(str(model))
    from training_worker.guard.backends.transformers_backend import TransformersBackend

    return TransformersBackend(str(model), device="cpu")


def fresh_start(guard: Guard, warmup: list[GuardRequest]) -> None:
    """Like guard_throughput's scenarios, each measurement starts with only the policy prefix cached:
    vLLM would otherwise find the prompts judged before in its prefix cache."""
    llm = getattr(guard.backend, "llm", None)
    if llm is not None and not llm.reset_prefix_cache():
        raise SystemExit("vLLM did not reset its prefix cache")
    guard.judge(warmup)


def judge_round(
    guard: Guard, requests: list[GuardRequest], warmup: list[GuardRequest], batch: int, single_n: int
) -> dict[str, Any]:
    fresh_start(guard, warmup)
    lone_ms = []
    for request in requests[:single_n]:
        one = time.perf_counter()
        guard.judge([request])
        lone_ms.append((time.perf_counter() - one) * 1000)
    fresh_start(guard, warmup)
    started = time.perf_counter()
    scores: list[float] = []
    for i in range(0, len(requests), batch):
        scores += [r.score for r in guard.judge(requests[i : i + batch])]
    batched_s = time.perf_counter() - started
    return {"items_per_s": len(requests) / batched_s, "single_p50_ms": statistics.median(lone_ms), "scores": scores}


def _gap(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("vllm", "transformers"), default="vllm")
    parser.add_argument("--n", type=int, default=64, help="prompts per round")
    parser.add_argument("--batch", type=int, default=32, help="items per judge call")
    parser.add_argument("--single-n", type=int, default=16, help="prompts also judged one at a time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DATA_CSV)
    args = parser.parse_args(argv)
    json_out = json_stdout()

    machine = machine_info()  # before torch loads, as the backends do
    backend = load_backend(args.backend, ensure_model(args.model))
    guard = Guard(backend)
    spec = load_spec()
    requests = [make_request(spec, item.prompt, "none") for item in load_items(args.data, args.n)]
    warmup = [make_request(spec, text, "none") for text in WARMUP_PROMPTS]
    remembered, whole = backend.tokens, WholeTexts(backend)
    runs: dict[str, list[dict[str, Any]]] = {"remembered": [], "whole": []}
    for _ in range(args.rounds):
        for mode, tokens in (("remembered", remembered), ("whole", whole)):
            backend.tokens = tokens
            runs[mode].append(judge_round(guard, requests, warmup, args.batch, args.single_n))
    backend.tokens = remembered
    first = runs["remembered"][0]["scores"]
    gaps = {
        # vLLM's scores move a little with what its prefix cache holds and how a batch is laid out:
        # the gap between two rounds of the same mode is that noise, for comparison.
        "remembered_vs_whole": _gap(first, runs["whole"][0]["scores"]),
        "remembered_first_vs_last_round": _gap(first, runs["remembered"][-1]["scores"]),
    }
    summary = {
        mode: {
            "items_per_s": [round(r["items_per_s"], 3) for r in rounds],
            "single_p50_ms": [round(r["single_p50_ms"], 1) for r in rounds],
        }
        for mode, rounds in runs.items()
    }
    median = {mode: statistics.median(s["items_per_s"]) for mode, s in summary.items()}
    lone = {mode: statistics.median(s["single_p50_ms"]) for mode, s in summary.items()}
    report = {
        "backend": args.backend,
        "n": args.n,
        "batch": args.batch,
        "rounds": args.rounds,
        "runs": summary,
        "ratios": {
            "items_per_s_remembered_vs_whole": round(median["remembered"] / median["whole"], 3),
            "single_p50_whole_minus_remembered_ms": round(lone["whole"] - lone["remembered"], 2),
        },
        "max_score_gap": gaps,
        "machine": machine,
    }
    json_out.write(json.dumps(report, indent=2) + "\n")
    json_out.flush()
    if hasattr(backend, "close"):
        backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
