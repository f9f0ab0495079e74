"""The lexical model beside the classifier: features, fitting, saving, combining, loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nlp.config import ClassifierConfig, NLPConfig
from nlp.lexical import Combiner, Featurizer, LexicalModel, fit_combiner, fit_logistic
from nlp.models import load_classifier
from nlp.types import LABELS

GOOD = [
    "菜很好吃，送得也快",
    "包装精美，很满意",
    "质量不错，推荐购买",
    "服务热情，下次还来",
    "好评，物超所值",
]
BAD = ["太难吃了，凉透了", "包装破损，很失望", "质量很差，要退货", "态度恶劣，不会再来", "差评，浪费钱"]
NEG, NEU, POS = (LABELS.index(x) for x in ("negative", "neutral", "positive"))


def fitted(buckets: int = 1 << 12) -> LexicalModel:
    f = Featurizer(buckets=buckets)
    texts = GOOD + BAD
    idf = f.idf(texts)
    idx, off, w = f.sparse(texts, idf)
    y = torch.tensor([1] * len(GOOD) + [0] * len(BAD))
    weight, bias = fit_logistic(idx, off, w, y, buckets, l2=1e-4)
    return LexicalModel(f, idf, weight, bias, Combiner(encoder=1.0, lexical=1.0))


def test_features_are_stable_and_normalised() -> None:
    f = Featurizer(buckets=1 << 16)
    assert f.grams("好吃") == f.grams("好吃")  # crc32, not Python's salted hash
    assert f.grams("ＯＫ 好") == f.grams("ok  好")  # full-width and case folded, spaces collapsed
    assert sum(f.grams("abc").values()) == 3 + 2 + 1  # 1-, 2- and 3-grams
    _, off, w = f.sparse(["好吃", ""], None)
    assert off.tolist() == [0, len(f.grams("好吃"))]  # an empty text has no features
    assert float(w.norm()) == pytest.approx(1.0)


def test_logistic_model_separates_unseen_phrasings() -> None:
    model = fitted()
    z = model.logits(["菜好吃，很满意", "很失望，要退货", ""])
    assert z[0] > 0 > z[1]
    assert z[2] == pytest.approx(model.bias)  # no features: the bias alone
    assert model.logits([]).shape == (0,)


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    model = fitted()
    model.save(tmp_path, {"note": "test"})
    again = LexicalModel.load(tmp_path)
    assert again is not None and again.combiner == model.combiner
    texts = ["质量不错", "太难吃了"]
    torch.testing.assert_close(again.logits(texts), model.logits(texts), atol=2e-3, rtol=0)  # fp16 weights
    assert LexicalModel.load(tmp_path / "missing") is None


def test_combiner_keeps_neutral_and_moves_the_polar_split() -> None:
    probs = torch.tensor([[0.30, 0.40, 0.30], [0.10, 0.10, 0.80]])
    same = Combiner().combine(probs, torch.zeros(2))
    torch.testing.assert_close(same, probs)
    pushed = Combiner(encoder=1.0, lexical=2.0).combine(probs, torch.tensor([-3.0, -3.0]))
    torch.testing.assert_close(pushed[:, NEU], probs[:, NEU])
    torch.testing.assert_close(pushed.sum(-1), torch.ones(2))
    assert pushed[0, NEG] > pushed[0, POS] and pushed[1, NEG] > probs[1, NEG]
    shifted = Combiner(neutral_shift=2.0).combine(probs, torch.zeros(2))
    assert (shifted[:, NEU] < probs[:, NEU]).all()
    torch.testing.assert_close(shifted.sum(-1), torch.ones(2))
    # the margin lowers neutral more where the polar evidence is strong (row 1: 0.8 vs 0.1)
    margin = Combiner(neutral_margin=1.0).combine(probs, torch.zeros(2))
    drop = probs[:, NEU] - margin[:, NEU]
    assert drop[1] / probs[1, NEU] > drop[0] / probs[0, NEU] >= 0


def test_fit_combiner_trusts_the_informative_score() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (400,), generator=g)
    informative = (y.float() * 2 - 1) + torch.randn(400, generator=g)  # overlapping, not separable
    noise = torch.randn(400, generator=g)
    c = fit_combiner(noise, informative, y)
    assert c.lexical > 1.0 and abs(c.encoder) < 0.3


def test_the_classifier_picks_up_a_lexical_model_in_its_adapter(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    from tests.test_train_classifier import toy
    from training.train_classifier import ClassifierTrainConfig, train

    adapter = tmp_path / "adapter"
    cfg = ClassifierTrainConfig(
        base=tiny_encoder_dir,
        out=adapter,
        epochs=2,
        batch_size=8,
        lr=1e-2,
        eval_every=5,
        lora_r=4,
        lora_top_layers=0,
        max_length=32,
    )
    train(cfg, toy(6), toy(2))
    nlp = NLPConfig(
        classifier=ClassifierConfig(model=str(tiny_encoder_dir), adapter=str(adapter), dtype="float32")
    )
    assert load_classifier(nlp).lexical is None
    model = fitted()
    LexicalModel(
        model.featurizer, model.idf, model.weight, model.bias, Combiner(encoder=1.0, lexical=5.0)
    ).save(adapter)
    clf = load_classifier(nlp)
    assert clf.lexical is not None
    texts = ["质量很好", "太差了"]
    enc, both = clf.encoder_probabilities(texts), clf.probabilities(texts)
    torch.testing.assert_close(both[:, NEU], enc[:, NEU])
    assert both[0, POS] > enc[0, POS] and both[1, NEG] > enc[1, NEG]  # the lexical model's verdicts
    # prototype mode (no head) ignores a lexical model
    plain = load_classifier(
        NLPConfig(classifier=ClassifierConfig(model=str(tiny_encoder_dir), adapter="none", dtype="float32"))
    )
    assert plain.mode == "prototype" and plain.lexical is None


def test_neutral_shift_follows_the_objective() -> None:
    from training.train_lexical import choose_neutral_shift

    # lukewarm rows ([0.40, 0.32, 0.28]) are neutral in the 3-class set but negative in the
    # binary one: more neutral answers win 3-class macro-F1 and lose strict binary accuracy
    lukewarm, neg, pos = [0.40, 0.32, 0.28], [0.50, 0.30, 0.20], [0.2, 0.30, 0.50]
    probs = torch.tensor([lukewarm] * 3 + [neg] * 4 + [pos] * 4 + [lukewarm])
    three = (["neutral"] * 3 + ["negative"] * 4 + ["positive"] * 4 + ["negative"], probs, torch.zeros(12))
    binary = (["negative"] * 6 + ["positive"] * 2, torch.tensor([lukewarm] * 6 + [pos] * 2), torch.zeros(8))
    c3, table = choose_neutral_shift(Combiner(), binary, three, objective="three")
    both, _ = choose_neutral_shift(Combiner(), binary, three, objective="both")
    row3 = table[f"shift {c3.neutral_shift:+.1f} margin {c3.neutral_margin:.1f}"]
    row_both = table[f"shift {both.neutral_shift:+.1f} margin {both.neutral_margin:.1f}"]
    assert row3["three_class_macro_f1"] == max(v["three_class_macro_f1"] for v in table.values()) > 0.9
    assert row_both["binary_accuracy"] == 1.0 > row3["binary_accuracy"]
    assert c3.neutral_shift < both.neutral_shift
    assert choose_neutral_shift(Combiner(), binary, None) == (Combiner(), {})
