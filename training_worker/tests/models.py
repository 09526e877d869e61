"""Models for the tests: the packaged SmolLM2 (converted once into MODEL_STORE) and tiny random Llamas
built from a config with its tokenizer, which run a whole judgement in well under a second.
The fixtures that use these live in the root conftest.py."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from training_worker.model_store import PACKAGED_NAME, convert_gguf, is_converted, packaged_gguf_path


def ensure_smollm() -> Path:
    target = Path(settings.MODEL_STORE) / PACKAGED_NAME
    if not is_converted(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        convert_gguf(gguf_path=packaged_gguf_path(), target=target)
    return target


def build_tiny_model(tokenizer_dir: Path, target: Path, *, seed: int) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
