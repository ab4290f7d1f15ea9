"""The character vocabulary: char <-> id, and encoding of user questions at translate time.

The ids are the order of first appearance in the data file (see `textfile.load_dataset`), so the
same file always gives the same ids, and a model's embedding rows stay tied to their characters.
A `Vocabulary` travels with a checkpoint as `to_dict()` (plain JSON) and comes back with
`Vocabulary.from_dict`.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable

import numpy as np

ID_DTYPE = np.int64  # the book's `numpy.int` on Linux; every id array we hand out has this dtype
SEPARATOR = "_"      # between question and answer in a file; the decoder's start symbol
PAD = " "            # questions are padded on the right with spaces to the file's width


class EncodeError(ValueError):
    """Text that cannot be turned into ids; `.problems` lists every reason (one string each)."""

    def __init__(self, what, problems):
        self.problems = list(problems)
        super().__init__(f"{what}: " + "; ".join(self.problems))


def _describe(ch):
    return f"{ch!r} (U+{ord(ch):04X})"


class Vocabulary:
    """Characters and their ids; id i is `chars[i]`.

    `char_to_id` / `id_to_char` are read-only views named as in the book's `get_vocab()`.
    """

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        seen = {}
        for i, ch in enumerate(chars):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"Vocabulary: entry {i} is {ch!r}, not a single character")
            if ch in seen:
                raise ValueError(f"Vocabulary: {_describe(ch)} appears twice "
                                 f"(ids {seen[ch]} and {i})")
            seen[ch] = i
        self._chars = tuple(chars)
        self._char_to_id = seen
        self._id_to_char = dict(enumerate(self._chars))

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Vocabulary":
        """Ids in order of first appearance, reading the texts in order, each left to right."""
        return cls(dict.fromkeys("".join(texts)))

    # --- plain container behaviour -------------------------------------------------------
    @property
    def chars(self) -> tuple:
        return self._chars

    @property
    def char_to_id(self):
        return MappingProxyType(self._char_to_id)

    @property
    def id_to_char(self):
        return MappingProxyType(self._id_to_char)

    def __len__(self):
        return len(self._chars)

    def __contains__(self, ch):
        return ch in self._char_to_id

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self._chars == other._chars

    def __hash__(self):
        return hash(self._chars)

    def __repr__(self):
        return f"Vocabulary({''.join(self._chars)!r})"

    # --- JSON round trip (for checkpoints) ------------------------------------------------
    def to_dict(self) -> dict:
        return {"chars": list(self._chars)}

    @classmethod
    def from_dict(cls, d) -> "Vocabulary":
        if not isinstance(d, dict) or not isinstance(d.get("chars"), list):
            raise ValueError(f"Vocabulary.from_dict: expected {{'chars': [...]}}, got {d!r:.80}")
        return cls(d["chars"])

    # --- encoding / decoding ----------------------------------------------------------------
    def _unseen(self, text):
        return [f"character {_describe(ch)} at column {i + 1} is not in the vocabulary"
                for i, ch in enumerate(text) if ch not in self._char_to_id]

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`, one per character; raises EncodeError naming every unseen character."""
        problems = self._unseen(text)
        if problems:
            raise EncodeError(f"encode {text!r}", problems)
        return np.array([self._char_to_id[ch] for ch in text], dtype=ID_DTYPE).reshape(len(text))

    def decode(self, ids) -> str:
        """The characters of a 1-D sequence of ids (no stripping: padding stays)."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"decode: expected a 1-D sequence of integer ids, "
                             f"got shape {ids.shape} dtype {ids.dtype}")
        bad = [int(i) for i in ids if not 0 <= i < len(self._chars)]
        if bad:
            raise ValueError(f"decode: ids {bad} are outside the vocabulary (0..{len(self) - 1})")
        return "".join(self._chars[i] for i in ids.tolist())

    def _question_problems(self, text, width):
        problems = []
        if not isinstance(text, str):
            return [f"expected a string, got {type(text).__name__}"]
        if len(text) > width:
            problems.append(f"the question is {len(text)} characters long, longer than the "
                            f"model's question width {width}")
        for i, ch in enumerate(text):
            if ch == SEPARATOR:
                problems.append(f"{SEPARATOR!r} at column {i + 1} separates question from "
                                f"answer in the data and never appears in a question")
        problems += self._unseen(text)
        if len(text) < width and PAD not in self._char_to_id:
            problems.append(f"the question needs padding to width {width}, but the padding "
                            f"character {PAD!r} is not in the vocabulary")
        return problems

    def encode_question(self, text: str, width: int, reverse: bool = False) -> np.ndarray:
        """A user's question as the model's input row, shape (width,).

        Padded exactly as the training data was: spaces on the right up to `width`, then the
        whole row reversed when the model was trained on reversed inputs.
        Raises EncodeError listing every problem (unseen characters with their columns, a text
        longer than `width`, a '_').
        """
        problems = self._question_problems(text, width)
        if problems:
            raise EncodeError(f"encode_question {text!r}", problems)
        ids = self.encode(text.ljust(width, PAD))
        return ids[::-1].copy() if reverse else ids

    def encode_questions(self, texts: Iterable[str], width: int, reverse: bool = False):
        """Several questions -> (N, width) ids; one EncodeError naming every bad question."""
        texts = list(texts)
        problems = []
        for n, text in enumerate(texts):
            problems += [f"question {n + 1} {text!r}: {p}"
                         for p in self._question_problems(text, width)]
        if problems:
            raise EncodeError("encode_questions", problems)
        out = np.empty((len(texts), width), dtype=ID_DTYPE)
        for n, text in enumerate(texts):
            out[n] = self.encode(text.ljust(width, PAD))
        return out[:, ::-1].copy() if reverse else out

    def decode_question(self, ids, reverse: bool = False) -> str:
        """Undo `encode_question`: the padded question text, in reading order."""
        ids = np.asarray(ids)
        return self.decode(ids[::-1] if reverse else ids)
