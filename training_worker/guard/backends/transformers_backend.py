"""The transformers backend: batched greedy generation and KV-cached continuation scoring.

Runs everywhere (CPU or GPU), in bf16 where the hardware supports it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from training_worker.guard.backends.base import BackendError, model_directory_check
from training_worker.guard.backends.packing import Packed, cover_rows, pack, sees
from training_worker.guard.backends.tokens import PrefixTokens
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

        path = model_directory_check(model_path=model_path)
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = preferred_dtype(torch, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model, loading = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, output_loading_info=True)
        except Exception as exc:  # a corrupt directory fails in many ways: TypeError, SafetensorError, ...
            raise BackendError(f"cannot load the model in {model_path}: {type(exc).__name__}: {exc}") from exc
        if loading["missing_keys"]:
            # transformers would fill them with random numbers and the guard would judge with those.
            missing = sorted(loading["missing_keys"])
            raise BackendError(
                f"cannot load the model in {model_path}: its weights lack {len(missing)} of the model's tensors "
                f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
            )
        self.model = model.to(self.device).eval()
        self.context_tokens = int(getattr(self.model.config, "max_position_embeddings", None) or 2048)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self._prefixes: dict[str, tuple[list[int], Any]] = {}
        self.tokens = PrefixTokens(self._ids)

    def close(self) -> None:
        """Nothing to stop: the model is freed with the last reference."""

    def failure(self) -> str | None:
        """None: the model runs in this process, which lives as long as it does."""
        return None

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str, *, shared_prefix: str | None = None) -> int:
        return len(self.tokens.ids(text, prefix=shared_prefix))

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

    def _reusable_prefix(self, texts: Sequence[str], shared_prefix: str | None) -> str:
        """The shared prefix when every text starts with it and the tokenizer splits it off cleanly
        (its KV cache is then that of every text's start), else nothing to reuse."""
        if not shared_prefix or not all(t.startswith(shared_prefix) for t in texts):
            return ""
        return shared_prefix if self.tokens.splits(texts[0], prefix=shared_prefix) else ""

    def _repeated_cache(self, cache: Any, rows: int) -> Any:
        """A copy of a prefix's KV cache for a batch of `rows`; the cached original stays as it was."""
        cache = copy.deepcopy(cache)
        cache.batch_repeat_interleave(rows)
        return cache

    def _generation_batch(self, texts: Sequence[str], shared_prefix: str | None) -> tuple[Any, Any, Any]:
        """Input ids, mask and the prefix's KV cache (or None) for a batch to generate from.

        With a shared prefix, padding goes between the prefix and each suffix, so every row still
        ends at the last column (what generation expects), and the prefix's KV cache is reused
        instead of recomputed.
        """
        torch = self._torch
        pad = self.tokenizer.pad_token_id
        if shared_prefix := self._reusable_prefix(texts, shared_prefix):
            prefix_ids, prefix_cache = self._prefix_cache(shared_prefix)
            suffixes = [self._ids(t[len(shared_prefix) :]) for t in texts]
            width = max(len(x) for x in suffixes)
            rows = [prefix_ids + [pad] * (width - len(x)) + x for x in suffixes]
            masks = [[1] * len(prefix_ids) + [0] * (width - len(x)) + [1] * len(x) for x in suffixes]
            cache = self._repeated_cache(prefix_cache, len(texts))
        else:
            encoded = [self._ids(t) for t in texts]
            width = max(len(x) for x in encoded)
            rows = [[pad] * (width - len(x)) + x for x in encoded]
            masks = [[0] * (width - len(x)) + [1] * len(x) for x in encoded]
            cache = None
        ids = torch.tensor(rows, device=self.device)
        mask = torch.tensor(masks, device=self.device)
        return ids, mask, cache

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: str, shared_prefix: str | None = None
    ) -> list[Generation]:
        torch = self._torch
        ids, mask, cache = self._generation_batch(prompts, shared_prefix)
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
        """One forward pass: each prefix with its continuation rows packed after it (see `packing`).

        Continuations that share tokens share rows: a row is scored at every position, so one row
        `unsafe}\nCategories: S10` also yields the scores of `safe`, `unsafe`, ` S2`, ` S1`... (see
        `cover_rows`). Logits are computed only where a score is read.
        """
        torch = self._torch
        given = [self._ids(c.given) for c in continuations]
        pieces = [ids + self._ids(c.scored) for ids, c in zip(given, continuations, strict=True)]
        starts = [len(ids) for ids in given]
        rows, where = cover_rows(pieces)
        shared = self._reusable_prefix(prefixes, shared_prefix)
        prefix_ids, cache = self._prefix_cache(shared) if shared else ([], None)
        suffixes = [self._ids(p[len(shared) :]) for p in prefixes]
        width = max(len(x) for x in suffixes) + sum(len(row) for row in rows)
        batch = [pack(x, rows, offset=len(prefix_ids), width=width, pad=self.tokenizer.pad_token_id) for x in suffixes]
        # Every row ends the same way, so the first row's indices read every row.
        reads = [
            (c, batch[0].reader(where[c], k), piece[k])
            for c, piece in enumerate(pieces)
            for k in range(starts[c], len(piece))
        ]
        keep = sorted({index for _, index, _ in reads})
        column = {index: n for n, index in enumerate(keep)}
        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.tensor([p.ids for p in batch], device=self.device),
                attention_mask=self._packed_mask(batch, cached=len(prefix_ids)),
                position_ids=torch.tensor([p.positions for p in batch], device=self.device),
                past_key_values=self._repeated_cache(cache, len(batch)) if cache is not None else None,
                use_cache=cache is not None,
                logits_to_keep=torch.tensor(keep, device=self.device),
            ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            columns = torch.tensor([column[index] for _, index, _ in reads], device=self.device)
            tokens = torch.tensor([token for _, _, token in reads], device=self.device)
            per_read = logprobs[:, columns, tokens].tolist()  # (batch, reads)
        scores = []
        for values in per_read:
            totals = [0.0] * len(pieces)
            for (c, _, _), value in zip(reads, values, strict=True):
                totals[c] += value
            scores.append(totals)
        return scores

    def _packed_mask(self, batch: list[Packed], *, cached: int) -> Any:
        """The additive 4D mask: every token sees the cached prefix, and what `Packed.visible` allows."""
        torch = self._torch
        segment = torch.tensor([p.segments for p in batch], device=self.device)
        position = torch.tensor([p.positions for p in batch], device=self.device)
        visible = sees(segment[:, :, None], segment[:, None, :], position[:, :, None], position[:, None, :])
        b, n = segment.shape
        visible = torch.cat([torch.ones(b, n, cached, dtype=torch.bool, device=self.device), visible], 2)
        dtype = self.model.dtype  # the weights' own, which a caller may have cast since loading
        mask = torch.zeros(visible.shape, dtype=dtype, device=self.device)
        return mask.masked_fill_(~visible, torch.finfo(dtype).min)[:, None]
