"""A few steps of classifier training on a tiny encoder: the loss falls, the adapter reloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nlp.config import ClassifierConfig, NLPConfig
from nlp.models import load_classifier
from nlp.types import LABELS
from training.data import Example
from training.metrics import classification_report
from training.train_classifier import ClassifierTrainConfig, get_dataloaders, train


def toy(n: int) -> list[Example]:
    # only characters the tiny tokenizer knows, so the classes are distinguishable
    good = ["质量很好", "好评满意", "物流很快很好", "喜欢"]
    bad = ["太差了", "差评退货", "质量差", "不满意"]
    meh = ["一般", "还行", "一般般"]
    out = []
    for i in range(n):
        out.append(Example(good[i % len(good)], "positive"))
        out.append(Example(bad[i % len(bad)], "negative"))
        if i % 2 == 0:
            out.append(Example(meh[i % len(meh)], "neutral"))
    return out


def test_tiny_training_learns_and_the_saved_adapter_reloads(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    cfg = ClassifierTrainConfig(
        base=tiny_encoder_dir,
        out=out,
        epochs=30,
        batch_size=8,
        grad_accum=1,
        lr=2e-2,
        eval_every=20,
        patience=100,
        lora_r=8,
        lora_top_layers=0,
        max_length=32,
        group_by_length=False,  # 40 toy rows sorted by length make one-label batches
    )
    dev = toy(3)
    summary = train(cfg, toy(12), dev)
    best = float(summary["best_dev_macro_f1"])  # type: ignore[arg-type]
    assert best > 0.4  # always guessing the majority class scores 0.18
    assert (out / "adapter_config.json").is_file() and (out / "config.json").is_file()
    assert (out / "training_summary.json").is_file()

    # Resuming a finished run does no more steps and keeps the result.
    again = train(cfg, toy(12), dev)
    assert again["steps"] == summary["steps"]

    # The saved adapter is the best checkpoint, and the product's loader reproduces its score.
    nlp = NLPConfig(
        classifier=ClassifierConfig(model=str(tiny_encoder_dir), adapter=str(out), dtype="float32")
    )
    clf = load_classifier(nlp)
    assert clf.mode == "head"
    pred = [s.label for s in clf.classify([e.text for e in dev])]
    report = classification_report([e.label for e in dev], pred, LABELS)
    assert report.macro_f1 == pytest.approx(best)
    texts = [e.text for e in dev]
    torch.testing.assert_close(clf.probabilities(texts), load_classifier(nlp).probabilities(texts))


def test_every_numeric_config_field_is_a_command_line_flag() -> None:
    import argparse

    from training.loop import add_config_args, config_overrides

    ap = argparse.ArgumentParser()
    add_config_args(ap, ClassifierTrainConfig)
    args = ap.parse_args(["--lora-top-layers", "2", "--lr", "0.01", "--epochs", "3"])
    assert config_overrides(args, ClassifierTrainConfig) == {"lora_top_layers": 2, "lr": 0.01, "epochs": 3}


def test_length_grouped_batches_hold_every_example_once_and_pad_little(tiny_encoder_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    texts = ["好" * n for n in range(1, 41)] * 3
    examples = [Example(t, "positive" if i % 2 else "negative") for i, t in enumerate(texts)]
    cfg = ClassifierTrainConfig(base=tiny_encoder_dir, out=Path("unused"), batch_size=8, max_length=64)
    train_dl, _ = get_dataloaders(cfg, tok, examples, examples[:4])
    seen, padded, real = [], 0, 0
    for batch in train_dl:
        mask = batch["attention_mask"]
        assert len(mask) <= 8
        padded += mask.numel()
        real += int(mask.sum())
        seen += [int(n) for n in mask.sum(1)]
    assert sorted(seen) == sorted(len(tok("query: " + t)["input_ids"]) for t in texts)  # each once
    assert padded < 1.1 * real  # shuffled batches of this set pad ~1.6x

    ungrouped = ClassifierTrainConfig(
        base=tiny_encoder_dir, out=Path("unused"), batch_size=8, group_by_length=False
    )
    plain_dl, _ = get_dataloaders(ungrouped, tok, examples, examples[:4])
    plain = sum(b["attention_mask"].numel() for b in plain_dl)
    assert plain > 1.3 * real
