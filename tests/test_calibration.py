"""Temperature scaling, ECE and the binary view of the classifier's probabilities."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

from nlp.calibration import Calibration, expected_calibration_error, fit, fit_temperature, scale
from nlp.classifier import Classifier
from nlp.config import ClassifierConfig
from nlp.loading import load_model
from nlp.types import LABELS, Label
from tests.tiny import tiny_tokenizer


def _sample(n: int, temperature: float, seed: int = 0) -> tuple[torch.Tensor, list[Label]]:
    """Logits and labels drawn from softmax(logits / temperature): the right T is known."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 3, generator=g) * 3
    y = torch.multinomial((logits / temperature).softmax(-1), 1, generator=g).squeeze(1)
    return logits, [LABELS[i] for i in y.tolist()]


def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with() -> None:
    for true_t in (0.5, 2.0):
        logits, gold = _sample(20_000, true_t)
        t = fit_temperature(logits, torch.tensor([LABELS.index(g) for g in gold]))
        assert abs(t - true_t) / true_t < 0.08, (true_t, t)


def test_scaling_an_overconfident_model_lowers_ece_and_keeps_every_answer() -> None:
    logits, gold = _sample(5_000, 2.5, seed=1)  # the model is sure; the world is not
    probs = logits.softmax(-1)
    cal = fit((probs, gold), None)
    assert cal.temperature > 1.5
    after = cal.three(probs)
    assert expected_calibration_error(after, gold) < 0.5 * expected_calibration_error(probs, gold)
    assert torch.equal(after.argmax(-1), probs.argmax(-1))
    torch.testing.assert_close(after.sum(-1), torch.ones(len(gold)))


def test_identity_temperature_changes_nothing() -> None:
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert scale(probs, 1.0) is probs
    assert Calibration().three(probs) is probs


def test_binary_view_drops_neutral_and_follows_the_polar_odds() -> None:
    probs = torch.tensor([[0.30, 0.60, 0.10], [0.05, 0.50, 0.45], [0.2, 0.0, 0.8]])
    out = Calibration(binary_temperature=1.0).binary(probs)
    assert out[:, LABELS.index("neutral")].eq(0).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(3))
    pos, neg = LABELS.index("positive"), LABELS.index("negative")
    assert out[0, neg] > 0.7 and out[1, pos] > 0.85  # a lukewarm review is read by its lean
    torch.testing.assert_close(out[2, pos], torch.tensor(0.8), atol=1e-4, rtol=0)
    hotter = Calibration(binary_temperature=2.0).binary(probs)
    assert hotter[1, pos] < out[1, pos] and hotter[1, pos] > 0.5


def test_fit_binary_skips_neutral_gold_and_learns_from_polar_rows() -> None:
    logits, gold = _sample(4_000, 3.0, seed=2)
    probs = logits.softmax(-1)
    cal = fit(None, (probs, gold))
    assert cal.temperature == 1.0 and cal.binary_temperature > 1.5


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    probs = torch.tensor([[0.0, 0.0, 1.0]] * 4)
    assert expected_calibration_error(probs, ["positive"] * 4) == 0.0
    assert expected_calibration_error(
        probs, ["positive", "negative", "positive", "negative"]
    ) == pytest.approx(0.5)
    assert expected_calibration_error(torch.zeros(0, 3), []) == 0.0


def test_calibration_file_round_trip_and_refusal(tmp_path: Path) -> None:
    assert Calibration.load(tmp_path) == Calibration() and Calibration.load(None) == Calibration()
    Calibration(1.7, 0.8).save(tmp_path, {"dev": {"three": {}}})
    assert Calibration.load(tmp_path) == Calibration(1.7, 0.8)
    (tmp_path / "calibration.json").write_text('{"temperature": 0}')
    with pytest.raises(ValueError, match="temperatures"):
        Calibration.load(tmp_path)


def _head_classifier(path: Path, labels: str) -> Classifier:
    torch.manual_seed(0)
    tok = tiny_tokenizer()
    id2label = dict(enumerate(LABELS))
    cfg = BertConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_labels=3, id2label=id2label,
        label2id={v: k for k, v in id2label.items()}, pad_token_id=0,
    )  # fmt: skip
    BertForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    ccfg = ClassifierConfig(model=str(path), dtype="float32", labels=labels)
    loaded = load_model(ccfg, AutoModelForSequenceClassification, bundled_dir=lambda: path)
    return Classifier(loaded, ccfg, calibration=Calibration(2.0, 1.5))


def test_classifier_applies_its_calibration_and_the_binary_mode(tmp_path: Path) -> None:
    reviews = ["质量很好", "太差了", "一般", "物流很快，但质量一般"]
    three = _head_classifier(tmp_path / "a", "three")
    raw = three.raw_probabilities(reviews)
    torch.testing.assert_close(three.probabilities(reviews), scale(raw, 2.0))
    binary = _head_classifier(tmp_path / "b", "binary")
    out = binary.classify(reviews)
    assert all(s.label != "neutral" and s.probs["neutral"] == 0.0 for s in out)
    assert all(abs(sum(s.probs.values()) - 1) < 1e-5 for s in out)
    torch.testing.assert_close(binary.probabilities(reviews), Calibration(2.0, 1.5).binary(raw))
