"""A prompt and every continuation scored after it, laid out in one row for one forward pass.

Scored the plain way, a prompt runs through the model, and then each continuation row runs on a
copy of the prompt's KV cache: two forward passes, and the cache (which holds the policy block,
over a thousand tokens) copied once per continuation row. Here the continuation rows follow the
prompt in the same row, side by side. Each token carries the position it would have in its own
unpacked sequence, and the attention mask keeps the rows from seeing each other, so the model
computes what it would for each sequence alone.

Rows are left-padded to one width, so every row of a batch ends the same way: the same indices
read the same continuation's tokens in every row.

Pure Python: the backend turns the layout into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAD = -2  # the segment of padding
PROMPT = -1  # the segment of the prompt's own tokens; continuation rows are segments 0, 1, ...


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


@dataclass(frozen=True)
class Packed:
    """One packed row: per token, its id, its position and its segment (`PAD`, `PROMPT` or a row)."""

    ids: list[int]
    positions: list[int]
    segments: list[int]
    last: int  # the prompt's last token: its logits score each continuation's first token
    row_start: list[int]  # where each continuation row begins

    def visible(self, query: int, key: int) -> bool:
        """Whether token `query` attends to token `key` (everything attends to the shared prefix).

        >>> p = pack([1, 2], [[8, 9], [7]], offset=10, width=6, pad=0)
        >>> [k for k in range(6) if p.visible(3, k)]  # row 0's second token: the prompt, then its row
        [1, 2, 3]
        >>> [k for k in range(6) if p.visible(5, k)]  # row 1: the prompt and itself, not row 0
        [1, 2, 5]
        >>> [k for k in range(6) if p.visible(0, k)]  # padding sees only padding
        [0]
        """
        return bool(sees(self.segments[query], self.segments[key], self.positions[query], self.positions[key]))

    def reader(self, row: int, token: int) -> int:
        """The index whose logits give token `token` of continuation row `row`.

        >>> pack([1, 2], [[8, 9], [7]], offset=10).reader(0, 1)
        2
        """
        return self.last if token == 0 else self.row_start[row] + token - 1


def sees(query_segment: Any, key_segment: Any, query_position: Any, key_position: Any) -> Any:
    """The attention rule, for single tokens (ints) and for whole rows (broadcast tensors) alike:
    a token sees its own segment and, unless it is padding, the prompt, up to its own position."""
    same = key_segment == query_segment
    return (same | ((key_segment == PROMPT) & (query_segment != PAD))) & (key_position <= query_position)


def pack(prompt: list[int], rows: list[list[int]], *, offset: int, width: int = 0, pad: int = 0) -> Packed:
    """Padding up to `width`, the prompt, then each continuation row, each at its unpacked positions.

    `offset` is the length of the shared prefix that precedes the row (a cached policy block).

    >>> p = pack([1, 2], [[8, 9], [7]], offset=10, width=6, pad=0)
    >>> p.ids, p.positions, p.segments
    ([0, 1, 2, 8, 9, 7], [10, 10, 11, 12, 13, 12], [-2, -1, -1, 0, 0, 1])
    >>> p.last, p.row_start
    (2, [3, 5])
    """
    padding = max(0, width - len(prompt) - sum(len(row) for row in rows))
    ids, positions, segments = [pad] * padding + prompt, [offset] * padding, [PAD] * padding + [PROMPT] * len(prompt)
    positions += range(offset, offset + len(prompt))
    row_start = []
    for r, row in enumerate(rows):
        row_start.append(len(ids))
        ids += row
        positions += range(offset + len(prompt), offset + len(prompt) + len(row))
        segments += [r] * len(row)
    return Packed(ids=ids, positions=positions, segments=segments, last=padding + len(prompt) - 1, row_start=row_start)
