from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
)

from nlp.classifier import Classifier
from nlp.config import ClassifierConfig
from nlp.loading import load_model
from nlp.types import LABELS
from tests.tiny import tiny_tokenizer


def _never() -> Path:
    raise AssertionError("bundled weights must not be touched")


def _prototype_classifier(path: Path, batch_size: int = 32) -> Classifier:
    cfg = ClassifierConfig(model=str(path), dtype="float32", batch_size=batch_size)
    return Classifier(load_model(cfg, AutoModel, bundled_dir=_never), cfg)


REVIEWS = ["质量很好，物流很快", "太差了", "一般", "包装破了，客服态度差，退货", "好", "颜色和图片一样，满意"]


def test_prototype_mode_gives_distributions_and_aspects(tiny_encoder_dir: Path) -> None:
    clf = _prototype_classifier(tiny_encoder_dir)
    assert clf.mode == "prototype"
    out = clf.classify(REVIEWS)
    assert len(out) == len(REVIEWS)
    for s in out:
        assert set(s.probs) == set(LABELS)
        assert abs(sum(s.probs.values()) - 1) < 1e-5
        assert s.label == max(s.probs, key=lambda k: s.probs[k])
    assert out[0].aspects == ("quality", "logistics")
    assert "packaging" in out[3].aspects and "service" in out[3].aspects


def test_dynamic_padding_and_batching_do_not_change_results(tiny_encoder_dir: Path) -> None:
    big = _prototype_classifier(tiny_encoder_dir, batch_size=32).probabilities(REVIEWS)
    small = _prototype_classifier(tiny_encoder_dir, batch_size=2).probabilities(REVIEWS)
    one_by_one = torch.cat([_prototype_classifier(tiny_encoder_dir).probabilities([t]) for t in REVIEWS])
    torch.testing.assert_close(big, small, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(big, one_by_one, atol=1e-5, rtol=1e-4)


def test_head_mode_maps_checkpoint_label_order(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tok = tiny_tokenizer()
    # The checkpoint orders its labels differently from LABELS; results must follow id2label.
    id2label = {0: "positive", 1: "negative", 2: "neutral"}
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_labels=3,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        pad_token_id=0,
    )
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)

    ccfg = ClassifierConfig(model=str(tmp_path), dtype="float32")
    clf = Classifier(load_model(ccfg, AutoModelForSequenceClassification, bundled_dir=_never), ccfg)
    assert clf.mode == "head"
    enc = tok(["质量很好"], return_tensors="pt")
    with torch.inference_mode():
        raw = model.eval()(**enc).logits.softmax(-1)[0]
    s = clf.classify(["质量很好"])[0]
    assert abs(s.probs["positive"] - float(raw[0])) < 1e-5
    assert abs(s.probs["negative"] - float(raw[1])) < 1e-5
    assert abs(s.probs["neutral"] - float(raw[2])) < 1e-5


def test_empty_input_gives_empty_output(tiny_encoder_dir: Path) -> None:
    assert _prototype_classifier(tiny_encoder_dir).classify([]) == []
