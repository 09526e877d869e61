"""The SFT warm-up: teach the output format before GRPO, on traces built from the labels.

A model that never writes `...</think>\\n\\boxed{...}` earns no format or accuracy reward, so GRPO
has nothing to compare. A short SFT (LoRA, merged afterwards) on traces
`{reviewer rationale or a templated reason}\\n</think>\\n\\boxed{label}` (plus the categories line
for unsafe) fixes that. Traces follow the prompt, which already opens `<think>\\n`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from training_worker.guard.engine import assemble_output, clean_reasoning
from training_worker.guard.template import THINK_OPEN
from training_worker.training.args import TrainingArguments
from training_worker.training.callbacks import StepRecorder, StepRow, numbers, quiet
from training_worker.training.dataset import TrainingExample, render_prompt
from training_worker.training.weights import load_model, load_tokenizer, lora_config, save_merged, use_bf16

MAX_RATIONALE_CHARS = 600
SFT_STEP_KEYS = {
    "loss": "loss",
    "mean_token_accuracy": "token_accuracy",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
}


def _one_line(text: str) -> str:
    return " ".join(clean_reasoning(text).split())


def templated_reason(example: TrainingExample) -> str:
    """A one-line reason in the guard's voice, for cases a reviewer did not explain. It is short and
    regular on purpose: the warm-up is there to teach the output's form, not to invent reasoning."""
    subject = "The assistant's reply" if example.target == "response" else "The user's request"
    if example.label == "safe":
        return f"{subject} does not fall under any category of the policy."
    names = {str(c["code"]): str(c["name"]) for c in example.spec["categories"]}
    found = ", ".join(f"{code} ({names.get(code, code)})" for code in example.categories)
    return f"{subject} falls under {found}."


def sft_trace(example: TrainingExample) -> str:
    r"""The completion the warm-up teaches for one example (the text after the prompt's `<think>\n`)."""
    rationale = _one_line(example.rationale)[:MAX_RATIONALE_CHARS]
    reasoning = rationale or templated_reason(example)
    return assemble_output(reasoning, example.label, example.categories)[len(THINK_OPEN) :]


def sft_examples(examples: Sequence[TrainingExample]) -> list[TrainingExample]:
    """Examples a correct trace can be written for: an unsafe label must name policy categories."""
    return [e for e in examples if e.label == "safe" or (e.label == "unsafe" and e.categories)]


def _sft_row(step: int, logs: dict[str, Any]) -> StepRow | None:
    if "loss" not in logs:  # the end-of-training summary, not a step
        return None
    return {"step": float(step), **numbers(logs, SFT_STEP_KEYS)}


def sft_run(
    args: TrainingArguments,
    *,
    base_model_dir: Path,
    examples: Sequence[TrainingExample],
    output_dir: Path,
    on_log: Callable[[str], None],
) -> tuple[Path, list[StepRow]]:
    """LoRA SFT on the traces for `args.sft_steps` steps; returns the merged model's directory and its steps."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    usable = sft_examples(examples)
    if not usable:
        raise ValueError("no example can teach the format: unsafe cases need categories of the policy")
    tokenizer = load_tokenizer(base_model_dir)
    rows = [{"prompt": render_prompt(tokenizer, e.prompt), "completion": sft_trace(e)} for e in usable]
    bf16 = use_bf16(args.bf16)
    recorder = StepRecorder(_sft_row)
    recorder.listeners.append(
        lambda row: on_log(f"sft step {int(row['step'])}/{args.sft_steps}: loss {row['loss']:.4f}")
    )
    config = SFTConfig(
        output_dir=str(output_dir / "trainer"),
        max_steps=args.sft_steps,
        per_device_train_batch_size=args.sft_batch_size,
        learning_rate=args.sft_learning_rate,
        max_length=None,  # a trace cut short would teach a broken format
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        bf16=bf16,
        gradient_checkpointing=args.gradient_checkpointing,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=load_model(base_model_dir, bf16=bf16),
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout),
        callbacks=[recorder],
    )
    on_log(f"sft warm-up: {len(usable)} traces, {args.sft_steps} steps")
    quiet(trainer)
    trainer.train()
    target = save_merged(
        trainer.model,
        base_dir=base_model_dir,
        target=output_dir / "model",
        info={"stage": "sft", "base": str(base_model_dir), "steps": args.sft_steps, "traces": len(usable)},
    )
    return target, recorder.steps
