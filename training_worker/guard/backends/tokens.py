"""Token ids of prompts that start with a policy's shared prefix, the prefix tokenized once.

Every prompt under one policy version starts with the same system message, about 1,300 tokens with
the default policy, and tokenizing it took about 2 ms per prompt on a 2-core host, three times per
item (the prompt, its scoring prefix, its token count) against 0.1 ms for the rest of the prompt.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

Encode = Callable[[str], list[int]]


class PrefixTokens:
    """`encode(text)`, with the ids of a shared prefix remembered for the texts that start with it.

    The prefix's ids are used only where tokenizing the prefix and the rest apart gives the ids of
    the whole text, which is checked on the first text seen with each prefix: a tokenizer may merge
    characters across the boundary. The rest of every prompt under a prefix starts with the same
    markup, so one check holds for all of them.

    >>> calls = []
    >>> def by_char(text):
    ...     calls.append(text)
    ...     return [ord(c) for c in text]
    >>> tokens = PrefixTokens(by_char)
    >>> tokens.ids("policy|hi", prefix="policy|")  # the first one tokenizes the whole text to check
    [112, 111, 108, 105, 99, 121, 124, 104, 105]
    >>> calls.clear()
    >>> tokens.ids("policy|yo", prefix="policy|")
    [112, 111, 108, 105, 99, 121, 124, 121, 111]
    >>> calls
    ['yo']
    """

    def __init__(self, encode: Encode, *, size: int = 16) -> None:
        self._encode = encode
        self._size = size
        self._heads: OrderedDict[str, list[int] | None] = OrderedDict()  # None: the prefix does not split cleanly
        self._lock = threading.Lock()

    def ids(self, text: str, *, prefix: str | None = None) -> list[int]:
        if not prefix or not text.startswith(prefix):
            return self._encode(text)
        known, head = self._lookup(prefix)
        if not known:
            return self._learn(text, prefix)[0]
        if head is None:
            return self._encode(text)
        return head + self._encode(text[len(prefix) :])

    def splits(self, text: str, *, prefix: str) -> bool:
        """Whether `text` starts with `prefix` and the two tokenized apart give the ids of `text`."""
        if not text.startswith(prefix):
            return False
        known, head = self._lookup(prefix)
        if not known:
            head = self._learn(text, prefix)[1]
        return head is not None

    def _lookup(self, prefix: str) -> tuple[bool, list[int] | None]:
        with self._lock:
            if prefix not in self._heads:
                return False, None
            self._heads.move_to_end(prefix)
            return True, self._heads[prefix]

    def _learn(self, text: str, prefix: str) -> tuple[list[int], list[int] | None]:
        """The ids of `text`, and those of `prefix` where the split holds (remembered either way)."""
        whole = self._encode(text)
        ids = self._encode(prefix)
        head = ids if whole == ids + self._encode(text[len(prefix) :]) else None
        with self._lock:
            self._heads[prefix] = head
            while len(self._heads) > self._size:
                self._heads.popitem(last=False)
        return whole, head
