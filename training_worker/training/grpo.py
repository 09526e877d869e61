"""One training run: measure the format rate, warm up with SFT if it is low, then GRPO with LoRA.

`main` takes a model directory and a `TrainingDataset` and writes a new model directory (merged
weights, loadable like any registered model). It touches no database row: the caller registers
the result (`model_version_register(source=trained, parent=...)`) and links it to its run.

On the CPU, completions come from transformers generation in float32; on CUDA, training runs in bf16
and `use_vllm` switches generation to TRL's colocated vLLM engine (the CUDA `vllm` package).
"""

from __future__ import annotations

import gc
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.rewards import (
    accuracy_reward,
    categories_reward,
    format_reward,
    format_shaping_reward,
)
from training_worker.training.args import TrainingArguments
from training_worker.training.callbacks import StepRecorder, StepRow, numbers, quiet
from training_worker.training.dataset import TrainingDataset, TrainingExample, render_prompt
from training_worker.training.evaluate import format_rate
from training_worker.training.sft import sft_examples, sft_run
from training_worker.training.weights import load_model, load_tokenizer, lora_config, save_merged, use_bf16

logger = logging.getLogger(__name__)

# TRL logs each reward function's mean as `rewards/<name>/mean`; the order matches RewardWeights'.
REWARD_NAMES = ("accuracy", "format", "categories", "shaping")
STEP_KEYS = {
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "rewards/format/mean": "format_rate",
    "rewards/accuracy/mean": "accuracy",
    "rewards/categories/mean": "categories",
    "rewards/shaping/mean": "shaping",
    "loss": "loss",
    "kl": "kl",  # logged only when beta > 0
    "entropy": "entropy",
    "completions/mean_length": "completion_length",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
}


class TrainingError(RuntimeError):
    """A run that cannot start or finish; the message says why."""


@dataclass
class TrainingOutput:
    model_dir: Path  # merged weights: config, tokenizer, safetensors
    steps: list[StepRow]  # GRPO, one row per step (see STEP_KEYS)
    sft_ran: bool
    sft_steps: list[StepRow] = field(default_factory=list)
    format_rate_before: float = 0.0
    format_rate_after_sft: float | None = None
    train_examples: int = 0
    seconds: float = 0.0


def _grpo_row(step: int, logs: dict[str, Any]) -> StepRow | None:
    if "reward" not in logs:  # the end-of-training summary, not a step
        return None
    return {"step": float(step), **numbers(logs, STEP_KEYS)}


def trl_rewards() -> list[Callable[..., list[float]]]:
    """The rewards as TRL calls them: a batch of completions plus the data set's columns."""

    def accuracy(completions: list[str], label: list[str], allowed_codes: list[list[str]], **_: Any) -> list[float]:
        return [
            accuracy_reward(c, lab, set(codes)) for c, lab, codes in zip(completions, label, allowed_codes, strict=True)
        ]

    def format(completions: list[str], allowed_codes: list[list[str]], **_: Any) -> list[float]:
        return [format_reward(c, set(codes)) for c, codes in zip(completions, allowed_codes, strict=True)]

    def categories(
        completions: list[str], label: list[str], categories: list[list[str]], allowed_codes: list[list[str]], **_: Any
    ) -> list[float]:
        rows = zip(completions, label, categories, allowed_codes, strict=True)
        return [categories_reward(c, lab, cats, set(codes)) for c, lab, cats, codes in rows]

    def shaping(completions: list[str], allowed_codes: list[list[str]], **_: Any) -> list[float]:
        return [format_shaping_reward(c, set(codes)) for c, codes in zip(completions, allowed_codes, strict=True)]

    return [accuracy, format, categories, shaping]


def probe_format_rate(args: TrainingArguments, *, model_dir: Path, examples: Sequence[TrainingExample]) -> float:
    guard = Guard(TransformersBackend(str(model_dir)))
    try:
        return format_rate(guard, examples[: args.format_probe_size], max_new_tokens=args.format_max_new_tokens)
    finally:
        del guard
        gc.collect()


def grpo_config(args: TrainingArguments, *, work_dir: Path, bf16: bool) -> Any:
    import torch
    from trl import GRPOConfig

    weights = args.reward_weights
    return GRPOConfig(
        output_dir=str(work_dir),
        max_steps=args.steps,
        per_device_train_batch_size=args.per_device_train_batch_size,
        num_generations=args.num_generations,
        learning_rate=args.learning_rate,
        max_completion_length=args.max_completion_length,
        beta=args.beta,
        temperature=args.temperature,
        reward_weights=[getattr(weights, name) for name in REWARD_NAMES],
        seed=args.seed,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        use_vllm=args.use_vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization,
        gradient_checkpointing=args.gradient_checkpointing,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def grpo_run(
    args: TrainingArguments,
    *,
    base_model_dir: Path,
    examples: Sequence[TrainingExample],
    work_dir: Path,
    target: Path,
    on_step: Callable[[StepRow], None] | None,
    on_log: Callable[[str], None],
) -> tuple[Path, list[StepRow]]:
    from datasets import Dataset
    from trl import GRPOTrainer

    tokenizer = load_tokenizer(base_model_dir)
    rows = [
        {
            "prompt": render_prompt(tokenizer, e.prompt),
            "label": e.label,
            "categories": list(e.categories),
            "allowed_codes": list(e.allowed_codes),
        }
        for e in examples
    ]
    bf16 = use_bf16(args.bf16)
    recorder = StepRecorder(_grpo_row)
    recorder.listeners.append(lambda row: on_log(_describe(row, args.steps)))
    if on_step is not None:
        recorder.listeners.append(on_step)
    trainer = GRPOTrainer(
        model=load_model(base_model_dir, bf16=bf16),
        reward_funcs=trl_rewards(),
        args=grpo_config(args, work_dir=work_dir, bf16=bf16),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout),
        callbacks=[recorder],
    )
    on_log(f"grpo: {len(rows)} prompts, {args.steps} steps, groups of {args.num_generations}")
    quiet(trainer)
    trainer.train()
    save_merged(
        trainer.model,
        base_dir=base_model_dir,
        target=target,
        info={"stage": "grpo", "base": str(base_model_dir), "steps": args.steps, "args": args.to_dict()},
    )
    return target, recorder.steps


def main(
    args: TrainingArguments,
    *,
    base_model_dir: Path,
    dataset: TrainingDataset,
    output_dir: Path,
    on_step: Callable[[StepRow], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> TrainingOutput:
    """Train a candidate from `base_model_dir` into `output_dir / "model"`. The SFT warm-up, when it
    runs, merges into `output_dir / "sft" / "model"`, GRPO starts from there, and it is removed at the end."""
    started = time.perf_counter()
    log = on_log or logger.info
    if not dataset.train:
        raise TrainingError("there are no new training cases: label or import some first")
    # The format rate is measured on held-out cases; a data set without any falls back to training cases.
    probe = dataset.eval or dataset.train
    before = probe_format_rate(args, model_dir=base_model_dir, examples=probe)
    log(f"format rate before training: {before:.2f} (SFT warm-up below {args.sft_format_threshold:.2f})")
    grpo_base, after_sft = base_model_dir, None
    sft_steps: list[StepRow] = []
    if before < args.sft_format_threshold and not sft_examples(dataset.train):
        log("no SFT warm-up: no training case can show the format (unsafe cases need policy categories)")
    elif before < args.sft_format_threshold:
        grpo_base, sft_steps = sft_run(
            args, base_model_dir=base_model_dir, examples=dataset.train, output_dir=output_dir / "sft", on_log=log
        )
        after_sft = probe_format_rate(args, model_dir=grpo_base, examples=probe)
        log(f"format rate after the SFT warm-up: {after_sft:.2f}")
    model_dir, steps = grpo_run(
        args,
        base_model_dir=grpo_base,
        examples=dataset.train,
        work_dir=output_dir / "grpo",
        target=output_dir / "model",
        on_step=on_step,
        on_log=log,
    )
    # Only the candidate is kept: the warm-up model is never registered, and the trainers save nothing else.
    for leftover in ("sft", "grpo"):
        shutil.rmtree(output_dir / leftover, ignore_errors=True)
    return TrainingOutput(
        model_dir=model_dir,
        steps=steps,
        sft_ran=grpo_base != base_model_dir,
        sft_steps=sft_steps,
        format_rate_before=before,
        format_rate_after_sft=after_sft,
        train_examples=len(dataset.train),
        seconds=time.perf_counter() - started,
    )


def _describe(row: StepRow, total: int) -> str:
    parts = [f"grpo step {int(row['step'])}/{total}"]
    parts += [
        f"{key} {row[key]:.3f}"
        for key in ("reward_mean", "reward_std", "format_rate", "accuracy", "loss")
        if key in row
    ]
    return ": ".join([parts[0], ", ".join(parts[1:])])
