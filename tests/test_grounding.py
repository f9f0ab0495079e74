from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from nlp.config import WriterConfig
from nlp.grounding import DigitVocab, NumberGrounding, numbers_in
from nlp.loading import load_model
from nlp.types import ProductFacts
from nlp.writer import CopyRequest, Writer
from tests.tiny import tiny_tokenizer


def test_numbers_are_read_with_decimals_and_full_width_digits() -> None:
    assert numbers_in("售价２９.9元，12GB+512GB", "3.5cm，第1名") == {"29.9", "12", "512", "3.5", "1"}
    assert numbers_in("没有数字") == frozenset()


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    return tiny_tokenizer()


def _allowed_next(tok, allowed: set[str], generated: str) -> set[str]:  # type: ignore[no-untyped-def]
    prompt = tok("售价", return_tensors="pt")["input_ids"]
    new = tok(generated, add_special_tokens=False, return_tensors="pt")["input_ids"] if generated else None
    ids = prompt if new is None else torch.cat([prompt, new], dim=1)
    scores = torch.zeros(1, len(tok))
    NumberGrounding(tok, DigitVocab.of(tok), allowed, prompt.shape[1])(ids, scores)  # type: ignore[arg-type]
    return {tok.decode([i]) for i in range(len(tok)) if scores[0, i] > float("-inf")}


def test_digits_must_spell_a_source_number(tok) -> None:  # type: ignore[no-untyped-def]
    allowed = {"29.9", "512"}
    free = _allowed_next(tok, allowed, "")
    assert {"2", "5"} <= free and not {"0", "1", "3", "9"} & free
    assert "价" in free and "." in free  # words and punctuation are untouched
    # inside a number that is only a prefix: the next token must continue it
    assert _allowed_next(tok, allowed, "好价2") == {"9"}
    assert _allowed_next(tok, allowed, "好价29") == {"."}
    assert _allowed_next(tok, allowed, "5") == {"1"}
    # a complete number may end; no digit may extend it into an invented one
    done = _allowed_next(tok, allowed, "29.9")
    assert "价" in done and not any(ch.isdigit() for ch in done)
    assert not any(ch.isdigit() for ch in _allowed_next(tok, set(), ""))


def test_the_prompt_is_not_read_as_generated_text(tok) -> None:  # type: ignore[no-untyped-def]
    # the prompt ends in a digit, but generation starts fresh: only source numbers may start
    prompt = tok("价格7", return_tensors="pt")["input_ids"]
    scores = torch.zeros(1, len(tok))
    NumberGrounding(tok, DigitVocab.of(tok), {"12"}, prompt.shape[1])(prompt, scores)  # type: ignore[arg-type]
    kept = {tok.decode([i]) for i in range(len(tok)) if scores[0, i] > float("-inf")}
    assert "1" in kept and "7" not in kept and "2" not in kept


def _never() -> Path:
    raise AssertionError("bundled weights must not be touched")


def _digits_written(tiny_gemma_dir: Path, ground: bool) -> list[str]:
    cfg = WriterConfig(
        model=str(tiny_gemma_dir), dtype="float32", max_new_tokens=60, temperature=2.0, top_p=1.0,
        ground_numbers=ground, candidates=1,
    )  # fmt: skip
    writer = Writer(load_model(cfg, AutoModelForCausalLM, bundled_dir=_never), cfg)
    torch.manual_seed(0)
    facts = ProductFacts("保温杯", ("不锈钢",), {"容量": "500ml"})
    drafts = writer.copy(CopyRequest(facts, n=5))
    return [m for d in drafts for m in re.findall(r"[0-9]+(?:\.[0-9]+)?", d.text)]


def test_a_grounded_writer_only_writes_numbers_from_the_facts(tiny_gemma_dir: Path) -> None:
    # random weights at a high temperature write digits freely; grounded, only "500" survives
    free = _digits_written(tiny_gemma_dir, ground=False)
    assert any(n not in {"500"} for n in free)
    grounded = _digits_written(tiny_gemma_dir, ground=True)
    assert all(n == "500" for n in grounded)
