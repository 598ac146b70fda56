"""Character-level text: CPython's own help topics (`pydoc_data.topics`, ~465k characters,
always installed with Python), a character vocabulary and (input, target) sequences."""

from __future__ import annotations

import numpy as np


def load_python_help() -> str:
    """The text of every `help('topic')` page of this Python, in sorted topic order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


class CharVocab:
    """A sorted character set: encode(text) -> int64 ids, decode(ids) -> text."""

    def __init__(self, text: str) -> None:
        if not text:
            raise ValueError("CharVocab: text is empty")
        self.itos: list[str] = sorted(set(text))
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        # code point -> id table for a vectorised encode
        codes = np.array([ord(c) for c in self.itos], dtype=np.int64)
        self._table = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._table[codes] = np.arange(len(codes))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(points.shape, -1, dtype=np.int64)
        inside = points < len(self._table)
        ids[inside] = self._table[points[inside]]
        if (ids < 0).any():
            bad = sorted({text[i] for i in np.flatnonzero(ids < 0)[:20]})
            raise KeyError(f"CharVocab.encode: characters not in the vocabulary: {bad}")
        return ids

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in np.asarray(ids).reshape(-1).tolist())


def char_sequences(ids, seq_len: int, stride: int | None = None):
    """(inputs, targets), each int64 (N, seq_len), where targets are the inputs shifted by one
    character: inputs[i] = ids[t:t+seq_len], targets[i] = ids[t+1:t+seq_len+1] for
    t = 0, stride, ... (stride defaults to seq_len: non-overlapping)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    stride = seq_len if stride is None else stride
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ValueError(f"char_sequences: seq_len must be an integer >= 1, got {seq_len!r}")
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"char_sequences: stride must be an integer >= 1, got {stride!r}")
    if len(ids) < seq_len + 1:
        raise ValueError(f"char_sequences: {len(ids)} ids are too few for seq_len {seq_len}")
    win = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)[::stride]
    return win[:, :-1].copy(), win[:, 1:].copy()


def load_char_corpus(seq_len: int = 64, test_size: float = 0.1):
    """The Python help text as a ready char-level task: (vocab, (x_train, y_train),
    (x_test, y_test)); the last test_size of the text (not a random sample) is the test
    split, so test sequences never overlap training ones."""
    text = load_python_help()
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * (1.0 - test_size))
    return vocab, char_sequences(ids[:cut], seq_len), char_sequences(ids[cut:], seq_len)
