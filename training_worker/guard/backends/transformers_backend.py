"""The transformers backend: batched greedy generation and KV-cached continuation scoring.

Runs everywhere (CPU or GPU), in bf16 where the hardware supports it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training_worker.guard.backends.base import BackendError
from training_worker.guard.cpu import cpu_computes_bf16, ensure_usable_cpu_isa
from training_worker.guard.types import Continuation, Generation

PREFIX_CACHE_SIZE = 8  # policy versions whose prefix KV stays in memory


def preferred_dtype(torch: Any, device: str) -> Any:
    return torch.bfloat16 if device.startswith("cuda") or cpu_computes_bf16() else torch.float32


class TransformersBackend:
    name = "transformers"
    concurrent = False  # one generate at a time: the micro-batcher's single runner owns the model

    def __init__(self, model_path: str, *, device: str | None = None) -> None:
        ensure_usable_cpu_isa()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        if not path.is_dir() or not (path / "config.json").is_file():
            raise BackendError(f"model directory {model_path} is missing or has no config.json")
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = preferred_dtype(torch, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load the model in {model_path}: {exc}") from exc
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self._prefixes: dict[str, tuple[list[int], Any]] = {}

    def close(self) -> None:
        """Nothing to stop: the model is freed with the last reference."""

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self._ids(text))

    def _prefix_cache(self, prefix: str) -> tuple[list[int], Any]:
        """The token ids and KV cache of a shared prefix (the policy block), computed once per prefix."""
        hit = self._prefixes.get(prefix)
        if hit is None:
            ids = self._ids(prefix)
            with self._torch.inference_mode():
                out = self.model(input_ids=self._torch.tensor([ids], device=self.device), use_cache=True)
            hit = (ids, out.past_key_values)
            self._prefixes[prefix] = hit
            while len(self._prefixes) > PREFIX_CACHE_SIZE:
                self._prefixes.pop(next(iter(self._prefixes)))
        return hit

    def _batch(self, texts: Sequence[str], shared_prefix: str | None) -> tuple[Any, Any, int, Any]:
        """Input ids and mask for a batch, plus the number of leading tokens already in the returned cache.

        With a shared prefix, padding goes between the prefix and each suffix, so every row still
        ends at the last column (what generation and last-token scoring expect), and the prefix's
        KV cache is reused instead of recomputed.
        """
        torch = self._torch
        pad = self.tokenizer.pad_token_id
        if shared_prefix and all(t.startswith(shared_prefix) for t in texts):
            prefix_ids, prefix_cache = self._prefix_cache(shared_prefix)
            suffixes = [self._ids(t[len(shared_prefix) :]) for t in texts]
            width = max(len(x) for x in suffixes)
            rows = [prefix_ids + [pad] * (width - len(x)) + x for x in suffixes]
            masks = [[1] * len(prefix_ids) + [0] * (width - len(x)) + [1] * len(x) for x in suffixes]
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(len(texts))
            cached = len(prefix_ids)
        else:
            encoded = [self._ids(t) for t in texts]
            width = max(len(x) for x in encoded)
            rows = [[pad] * (width - len(x)) + x for x in encoded]
            masks = [[0] * (width - len(x)) + [1] * len(x) for x in encoded]
            cache, cached = None, 0
        ids = torch.tensor(rows, device=self.device)
        mask = torch.tensor(masks, device=self.device)
        return ids, mask, cached, cache

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: str, shared_prefix: str | None = None
    ) -> list[Generation]:
        torch = self._torch
        ids, mask, _, cache = self._batch(prompts, shared_prefix)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                past_key_values=cache,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                stop_strings=[stop],
                tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        results = []
        for row in output[:, ids.shape[1] :].tolist():
            tokens = [t for t in row if t != self.tokenizer.pad_token_id]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            stopped = stop in text or (bool(tokens) and tokens[-1] == self.tokenizer.eos_token_id)
            results.append(
                Generation(
                    text=text.split(stop, 1)[0],
                    tokens=len(tokens),
                    truncated=not stopped and len(tokens) >= max_new_tokens,
                )
            )
        return results

    def score(
        self, prefixes: Sequence[str], continuations: Sequence[Continuation], *, shared_prefix: str | None = None
    ) -> list[list[float]]:
        """One forward pass over the prefixes, then the continuations on copies of their KV cache.

        Continuations that share tokens share rows: a row is scored at every position, so one row
        `unsafe}\nCategories: S10` also yields the scores of `safe`, `unsafe`, ` S2`, ` S1`... (see
        `cover_rows`). That keeps the cache copies to one or two per prefix instead of one per
        continuation.
        """
        torch = self._torch
        pieces = [self._ids(c.given) + self._ids(c.scored) for c in continuations]
        starts = [len(self._ids(c.given)) for c in continuations]
        rows, where = cover_rows(pieces)
        k = len(rows)
        prefix_ids, prefix_mask, cached, cache = self._batch(prefixes, shared_prefix)
        # Positions count real tokens only, whatever the padding.
        positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(
                input_ids=prefix_ids[:, cached:],
                attention_mask=prefix_mask,
                position_ids=positions[:, cached:],
                past_key_values=cache,
                use_cache=True,
            )
            last_logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)  # (B, V)
            cache = out.past_key_values
            cache.batch_repeat_interleave(k)
            width = max(len(row) for row in rows)
            pad = self.tokenizer.pad_token_id
            b = prefix_ids.shape[0]
            cont_ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=self.device).repeat(b, 1)
            cont_mask = torch.tensor(
                [[1] * len(row) + [0] * (width - len(row)) for row in rows], device=self.device
            ).repeat(b, 1)
            full_mask = torch.cat([prefix_mask.repeat_interleave(k, dim=0), cont_mask], dim=1)
            start = prefix_mask.sum(-1).repeat_interleave(k).unsqueeze(1)
            cont_pos = start + torch.arange(width, device=self.device).unsqueeze(0)
            logits = self.model(
                input_ids=cont_ids, attention_mask=full_mask, position_ids=cont_pos, past_key_values=cache
            ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)  # (B*k, W, V)

        scores: list[list[float]] = []
        for i in range(b):
            row_scores = []
            for tokens, first, row in zip(pieces, starts, where, strict=True):
                total = 0.0
                for position in range(first, len(tokens)):
                    if position == 0:
                        total += float(last_logprobs[i, tokens[position]])
                    else:
                        total += float(logprobs[i * k + row, position - 1, tokens[position]])
                row_scores.append(total)
            scores.append(row_scores)
        return scores


def cover_rows(sequences: list[list[int]]) -> tuple[list[list[int]], list[int]]:
    """Fewest rows whose prefixes contain every sequence, and the row each sequence is read from.

    A sequence is read from a row that starts with all of it but its last token: the row's logits
    give every token's probability, the last one included.

    >>> cover_rows([[5], [7, 5], [7, 5, 9, 1], [7, 5, 9, 2], [7, 5, 9, 1, 0]])
    ([[7, 5, 9, 1, 0]], [0, 0, 0, 0, 0])
    >>> cover_rows([[1, 2], [3, 4]])
    ([[1, 2], [3, 4]], [0, 1])
    """
    rows: list[list[int]] = []
    for sequence in sorted(sequences, key=len, reverse=True):
        if not any(row[: len(sequence) - 1] == sequence[:-1] for row in rows):
            rows.append(sequence)
    where = [next(r for r, row in enumerate(rows) if row[: len(s) - 1] == s[:-1]) for s in sequences]
    return rows, where
