"""Training quality: the packaged SmolLM2 on held-out prompts, zero-shot, after the SFT warm-up and
after N GRPO steps.

Data: ../shared/data/jbb_behaviors.csv (JailbreakBench behaviours, 100 unsafe + 100 safe), judged
under policies_app/default_policy.yaml, split into train and eval by a stable hash of the prompt. At
each of the three points it reports F1, precision, recall and accuracy (the guard's own path,
reasoning `none`, as the product scores) and the format rate (free greedy generation read by the
strict parser). One JSON document goes to stdout; logs go to stderr. See bench/README.md:

    .venv/bin/python bench/train_quality.py --out var/bench/train_quality.json
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import logging
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from policies_app.spec import parse_policy  # noqa: E402
from training_worker.evaluation import f1_gain_interval  # noqa: E402
from training_worker.guard.template import Message, chat_messages  # noqa: E402
from training_worker.training.args import TrainingArguments  # noqa: E402
from training_worker.training.dataset import TrainingExample  # noqa: E402
from training_worker.training.evaluate import model_evaluate  # noqa: E402
from training_worker.training.grpo import grpo_run  # noqa: E402
from training_worker.training.sft import sft_run  # noqa: E402

DATA_CSV = REPO.parent / "shared" / "data" / "jbb_behaviors.csv"
POLICY_YAML = REPO / "policies_app" / "default_policy.yaml"
DEFAULT_MODEL = REPO / "var" / "models" / "smollm2-135m-instruct"
# JailbreakBench's topics, as the default policy's categories.
JBB_CATEGORIES = {
    "Harassment/Discrimination": "S7",
    "Malware/Hacking": "S11",
    "Physical harm": "S1",
    "Economic harm": "S8",
    "Fraud/Deception": "S8",
    "Disinformation": "S12",
    "Sexual/Adult content": "S5",
    "Privacy": "S10",
    "Expert advice": "S12",
    "Government decision-making": "S8",
}
log = logging.getLogger("bench.train_quality")


def stable_bucket(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def load_examples(path: Path, spec: dict[str, Any], eval_percent: int) -> list[TrainingExample]:
    codes = tuple(str(c["code"]) for c in spec["categories"])
    examples = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            messages = (Message("user", row["prompt"]),)
            unsafe = row["label"] == "unsafe"
            examples.append(
                TrainingExample(
                    case_id=number,
                    prompt=chat_messages(spec, messages, "prompt"),
                    label=row["label"],
                    categories=(JBB_CATEGORIES[row["category"]],) if unsafe else (),
                    allowed_codes=codes,
                    rationale="",
                    split="eval" if stable_bucket(row["prompt"]) < eval_percent else "train",
                    spec=spec,
                    messages=messages,
                    target="prompt",
                    content_hash=hashlib.sha256(row["prompt"].encode("utf-8")).hexdigest(),
                )
            )
    return examples


def balanced(examples: list[TrainingExample], n: int) -> list[TrainingExample]:
    """n examples, half of each label, in hash order (stable), interleaved safe/unsafe."""
    by_label = {
        label: sorted((e for e in examples if e.label == label), key=lambda e: e.content_hash)
        for label in ("safe", "unsafe")
    }
    half = n // 2
    picked = [e for pair in zip(by_label["safe"][:half], by_label["unsafe"][:half], strict=True) for e in pair]
    return picked


def point(name: str, model_dir: Path, examples: list[TrainingExample], opts: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    metrics = model_evaluate(
        model_dir=model_dir,
        examples=examples,
        reasoning=opts.reasoning,
        format_examples=opts.format_n,
        max_new_tokens=opts.format_max_new_tokens,
        keep_verdicts=True,
    )
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    log.info("%s: %s", name, {k: metrics[k] for k in ("f1", "precision", "recall", "format_rate")})
    return metrics


def run(opts: argparse.Namespace) -> dict[str, Any]:
    spec = dataclasses.asdict(parse_policy(POLICY_YAML.read_text(encoding="utf-8")))
    examples = load_examples(Path(opts.data), spec, opts.eval_percent)
    eval_set = balanced([e for e in examples if e.split == "eval"], opts.eval_n)
    train_set = balanced([e for e in examples if e.split == "train"], opts.train_n)
    assert not {e.content_hash for e in eval_set} & {e.content_hash for e in train_set}
    args = TrainingArguments.from_dict(json.loads(opts.args))
    base, work = Path(opts.model), Path(opts.work_dir)
    say: Callable[[str], None] = log.info
    timings: dict[str, float] = {}

    report: dict[str, Any] = {"points": {}}
    report["points"]["zero_shot"] = point("zero-shot", base, eval_set, opts)
    started = time.perf_counter()
    sft_dir, sft_steps = sft_run(args, base_model_dir=base, examples=train_set, output_dir=work / "sft", on_log=say)
    timings["sft_s"] = round(time.perf_counter() - started, 1)
    report["points"]["after_sft"] = point("after SFT", sft_dir, eval_set, opts)
    started = time.perf_counter()
    grpo_dir, grpo_steps = grpo_run(
        args,
        base_model_dir=sft_dir,
        examples=train_set,
        work_dir=work / "grpo",
        target=work / "model",
        on_step=None,
        on_log=say,
    )
    timings["grpo_s"] = round(time.perf_counter() - started, 1)
    report["points"]["after_grpo"] = point(f"after {args.steps} GRPO steps", grpo_dir, eval_set, opts)
    report["sft_steps"] = sft_steps
    report["grpo_steps"] = grpo_steps
    report["f1_gain"] = f1_gains(eval_set, report["points"])
    timings["sft_s_per_step"] = round(timings["sft_s"] / max(len(sft_steps), 1), 1)
    timings["grpo_s_per_step"] = round(timings["grpo_s"] / max(len(grpo_steps), 1), 1)
    timings["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["data"] = {
        "file": str(opts.data),
        "eval_percent": opts.eval_percent,
        "eval_n": len(eval_set),
        "train_n": len(train_set),
        "format_n": min(opts.format_n, len(eval_set)),
        "reasoning": opts.reasoning,
    }
    report["training_arguments"] = args.to_dict()
    report["timings"] = timings
    report["machine"] = machine()
    return report


def f1_gains(examples: list[TrainingExample], points: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each later point's F1 gain over zero-shot (and GRPO's over the warm-up), with its 95% interval."""
    labels = [e.label for e in examples]
    verdicts = {name: metrics.pop("verdicts") for name, metrics in points.items()}
    pairs = {
        "after_sft_vs_zero_shot": ("zero_shot", "after_sft"),
        "after_grpo_vs_zero_shot": ("zero_shot", "after_grpo"),
        "after_grpo_vs_after_sft": ("after_sft", "after_grpo"),
    }
    return {name: f1_gain_interval(labels, verdicts[a], verdicts[b]) for name, (a, b) in pairs.items()}


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "cuda": torch.cuda.is_available(),
        "torch": torch.__version__,
        "transformers": metadata.version("transformers"),
        "trl": metadata.version("trl"),
        "peft": metadata.version("peft"),
        "load_average_at_end": os.getloadavg(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="converted model directory")
    parser.add_argument("--data", default=str(DATA_CSV))
    parser.add_argument("--eval-percent", type=int, default=20, help="share of prompts held out, by hash")
    parser.add_argument("--eval-n", type=int, default=16, help="held-out prompts evaluated (balanced)")
    parser.add_argument("--train-n", type=int, default=120, help="training prompts (balanced)")
    parser.add_argument("--format-n", type=int, default=16, help="held-out prompts generated for the format rate")
    parser.add_argument("--format-max-new-tokens", type=int, default=96)
    parser.add_argument("--reasoning", choices=("none", "full"), default="none")
    parser.add_argument(
        "--args",
        # The warm-up runs at the product's defaults (30 steps of 4 traces); GRPO is cut to a few
        # small steps, which is what a 2-core CPU can do in minutes.
        default=json.dumps(
            {"steps": 3, "num_generations": 4, "per_device_train_batch_size": 4, "max_completion_length": 48}
        ),
        help="TrainingArguments overrides (JSON)",
    )
    parser.add_argument("--work-dir", default=str(REPO / "var" / "bench" / "train_quality"))
    parser.add_argument("--out", help="also write the JSON here")
    return parser.parse_args(argv)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    opts = parse_args()
    report = run(opts)
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if opts.out:
        Path(opts.out).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
