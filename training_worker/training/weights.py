"""Loading a model directory for training and saving the trained result as a plain model directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training_worker.model_store import MARKER


def use_bf16(requested: bool | None) -> bool:
    """bf16 when asked, or by default on CUDA; float32 on the CPU (training there is fp32)."""
    import torch

    return torch.cuda.is_available() if requested is None else requested


def load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_model(model_dir: Path, *, bf16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if bf16 else torch.float32)


def lora_config(*, r: int, alpha: int, dropout: float) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM")


def save_merged(peft_model: Any, *, base_dir: Path, target: Path, info: dict[str, Any]) -> Path:
    """Fold the LoRA adapter into the weights and save a directory any guard backend loads like the base:
    config, tokenizer (the base's, untouched) and safetensors, in the base's dtype."""
    import torch
    from transformers import AutoConfig

    merged = peft_model.merge_and_unload()
    base_dtype = getattr(AutoConfig.from_pretrained(base_dir), "dtype", None)
    if isinstance(base_dtype, str):
        base_dtype = getattr(torch, base_dtype, None)
    if isinstance(base_dtype, torch.dtype):
        merged = merged.to(base_dtype)
    target.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(target, safe_serialization=True)
    load_tokenizer(base_dir).save_pretrained(target)
    (target / MARKER).write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
    return target
