"""Number grounding: a draft may only write the numbers its inputs contain.

Small writers invent prices, sizes and durations ("售价299元" for a product whose facts name no
price). The checkers catch that afterwards; `NumberGrounding` prevents it while decoding. Every
digit the model writes must extend a prefix of a number that occurs in the source text (the
product facts, or the review and the shop's policy), and a number may only end where a source
number ends. The model can still say "七天" in words or leave the number out; it cannot make one
up digit by digit.

Works with tokenizers that write numbers digit by digit (Gemma, Llama 3, Qwen ...). Tokens
that hold a digit together with anything else ("①", "²", "㎡") are not allowed at all, since
they would slip a number past the prefix rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TRAILING = re.compile(r"[0-9]+(?:\.[0-9]*)?$")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def numbers_in(*texts: str) -> frozenset[str]:
    """The numbers written in digits in `texts` ("29.9", "512"), full-width digits folded."""
    return frozenset(m.group(0) for t in texts for m in _NUMBER.finditer(_fold(t)))


@dataclass(frozen=True)
class DigitVocab:
    """Where the digits are in a tokenizer's vocabulary."""

    digits: dict[str, tuple[int, ...]]  # "0".."9" -> ids of tokens that are exactly that digit
    dots: tuple[int, ...]  # ids of "." tokens
    other_numeric: tuple[int, ...]  # ids of tokens holding a digit among other characters

    @classmethod
    def of(cls, tokenizer: Any) -> DigitVocab:
        digits: dict[str, list[int]] = {d: [] for d in "0123456789"}
        dots: list[int] = []
        other: list[int] = []
        special = set(getattr(tokenizer, "all_special_ids", []))
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        for token_id, raw in enumerate(texts):
            if token_id in special:
                continue
            text = _fold(raw).strip()
            if text == ".":
                dots.append(token_id)
            elif len(text) == 1 and text in digits:
                digits[text].append(token_id)
            elif any("0" <= ch <= "9" for ch in text):
                other.append(token_id)
        return cls({d: tuple(ids) for d, ids in digits.items()}, tuple(dots), tuple(other))


class NumberGrounding(LogitsProcessor):
    """Masks digits that would start or continue a number not found in `allowed`.

    `prompt_length` is where the generated part of `input_ids` begins; only that part is read.
    """

    def __init__(self, tokenizer: Any, vocab: DigitVocab, allowed: Iterable[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.allowed = frozenset(allowed)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row in range(input_ids.shape[0]):
            tail = self.tokenizer.decode(input_ids[row, self.prompt_length :][-16:].tolist())
            self._mask_row(scores[row], _trailing_number(tail))
        return scores

    def _mask_row(self, scores: torch.Tensor, current: str) -> None:
        nexts = {n[len(current)] for n in self.allowed if n.startswith(current) and len(n) > len(current)}
        # "29." may be a full stop after a source number
        ended = current.endswith(".") and current[:-1] in self.allowed
        complete = not current or current in self.allowed or ended
        if not complete and nexts:
            # Inside a number that is only the start of a source number: it must go on.
            keep = torch.zeros_like(scores, dtype=torch.bool)
            for ch in nexts:
                keep[list(self.vocab.digits[ch]) if ch != "." else list(self.vocab.dots)] = True
            scores.masked_fill_(~keep, float("-inf"))
            return
        banned = [i for d, ids in self.vocab.digits.items() if d not in nexts for i in ids]
        banned += self.vocab.other_numeric
        if banned:
            scores[banned] = float("-inf")


def _trailing_number(text: str) -> str:
    m = _TRAILING.search(_fold(text))
    return m.group(0) if m else ""
