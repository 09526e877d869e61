"""PrefixTokens: a shared prefix tokenized once, and only where that gives the same ids."""

from __future__ import annotations

from training_worker.guard.backends.tokens import PrefixTokens


class CountingEncoder:
    """A stand-in tokenizer (the tokenizer is not what these tests are about): one id per character,
    except that `merge` becomes one token, so a boundary inside it tokenizes differently."""

    def __init__(self, merge: str = "") -> None:
        self.merge = merge
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[int]:
        self.calls.append(text)
        ids: list[int] = []
        i = 0
        while i < len(text):
            if self.merge and text.startswith(self.merge, i):
                ids.append(1000)
                i += len(self.merge)
            else:
                ids.append(ord(text[i]))
                i += 1
        return ids


def test_it_tokenizes_a_prefix_once_and_then_only_the_rest() -> None:
    encode = CountingEncoder()
    tokens = PrefixTokens(encode)
    first = tokens.ids("POLICY<c>one</c>", prefix="POLICY")
    assert first == encode("POLICY<c>one</c>")
    encode.calls.clear()
    assert tokens.ids("POLICY<c>two</c>", prefix="POLICY") == CountingEncoder()("POLICY<c>two</c>")
    assert encode.calls == ["<c>two</c>"]


def test_it_tokenizes_the_whole_text_where_the_boundary_would_split_a_token() -> None:
    encode = CountingEncoder(merge="Y<")
    tokens = PrefixTokens(encode)
    for text in ("POLICY<c>one</c>", "POLICY<c>two</c>"):
        assert tokens.ids(text, prefix="POLICY") == encode(text)
        assert 1000 in tokens.ids(text, prefix="POLICY")
    encode.calls.clear()
    tokens.ids("POLICY<c>three</c>", prefix="POLICY")
    assert encode.calls == ["POLICY<c>three</c>"]


def test_a_text_without_the_prefix_is_tokenized_whole() -> None:
    encode = CountingEncoder()
    tokens = PrefixTokens(encode)
    tokens.ids("POLICY<c>one</c>", prefix="POLICY")
    encode.calls.clear()
    assert tokens.ids("OTHER<c>one</c>", prefix="POLICY") == CountingEncoder()("OTHER<c>one</c>")
    assert tokens.ids("POLICY<c>one</c>") == CountingEncoder()("POLICY<c>one</c>")
    assert encode.calls == ["OTHER<c>one</c>", "POLICY<c>one</c>"]


def test_it_forgets_the_prefix_used_least_recently() -> None:
    encode = CountingEncoder()
    tokens = PrefixTokens(encode, size=2)
    for prefix in ("A", "B", "A", "C"):  # B is the least recently used when C comes
        tokens.ids(prefix + "<c>x</c>", prefix=prefix)
    encode.calls.clear()
    tokens.ids("A<c>y</c>", prefix="A")
    tokens.ids("B<c>y</c>", prefix="B")
    assert encode.calls == ["<c>y</c>", "B<c>y</c>", "B", "<c>y</c>"]


def test_it_says_whether_a_prefix_splits_off_cleanly() -> None:
    tokens = PrefixTokens(CountingEncoder(merge="Y<"))
    assert not tokens.splits("POLICY<c>one</c>", prefix="POLICY")
    assert tokens.splits("POLICY<c>one</c>", prefix="POLIC")
    assert not tokens.splits("OTHER<c>one</c>", prefix="POLIC")
