"""Fit the lexical model (nlp/lexical.py) beside a trained classifier adapter.

    R=../shared/data/reviews
    xiaoer train lexical --train $R/{online_shopping_10_cats,waimai_10k,chnsenticorp_htl}_train.csv \\
        --dev $R/{online_shopping_10_cats,waimai_10k,chnsenticorp_htl}_dev.csv \\
        --refs training/data/labels_3class_part*.csv --adapter nlp/adapters/classifier

1. TF-IDF weighted, hashed character 1-3 grams + L2-regularised logistic regression on the
   positive/negative rows of --train (neutral rows carry no polar signal and are skipped); the
   regularisation is chosen from --l2 by dev macro-F1.
2. The encoder with that adapter scores --dev; the weights that add its positive-vs-negative
   log-odds to the lexical model's are fitted on the dev rows (logistic regression, 3 numbers).
3. Both go into the adapter directory (lexical.safetensors, lexical.json, about 2.5 MB), where
   the classifier picks them up. Dev scores of the encoder alone, the lexical model alone and
   the combination are printed and written to lexical.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from nlp.classifier import Classifier
from nlp.lexical import (
    META,
    WEIGHTS,
    Combiner,
    Featurizer,
    LexicalModel,
    fit_combiner,
    fit_logistic,
    polar_log_odds,
)
from nlp.types import LABELS
from training.data import DataError, Example, read_labelled
from training.metrics import classification_report

log = logging.getLogger(__name__)
Scored = tuple[Sequence[str], torch.Tensor, torch.Tensor]  # gold, encoder probs, lexical logits
LEXICAL_ONLY = Combiner(encoder=0.0, lexical=1.0, bias=0.0)


def polar(examples: list[Example]) -> list[Example]:
    return [e for e in examples if e.label != "neutral"]


def scores(gold: Sequence[str], probs: torch.Tensor) -> tuple[float, float]:
    pred = [LABELS[i] for i in probs.argmax(-1).tolist()]
    r = classification_report(gold, pred, LABELS)
    return r.accuracy, r.macro_f1


def fit_lexical(
    train: list[Example], dev: list[Example], l2_grid: list[float], featurizer: Featurizer
) -> tuple[LexicalModel, dict[str, float]]:
    """The lexical model with the dev-best regularisation, and dev macro-F1 per l2 value."""
    texts = [e.text for e in train]
    start = time.perf_counter()
    idf = featurizer.idf(texts)
    idx, off, w = featurizer.sparse(texts, idf)
    y = torch.tensor([e.label == "positive" for e in train])
    print(f"features: {len(train)} texts, {idx.numel()} n-grams, {time.perf_counter() - start:.0f} s")
    gold = [e.label for e in dev]
    by_l2: dict[str, float] = {}
    best: tuple[float, LexicalModel] | None = None
    for l2 in l2_grid:
        start = time.perf_counter()
        weight, bias = fit_logistic(idx, off, w, y, featurizer.buckets, l2)
        model = LexicalModel(featurizer, idf, weight, bias, LEXICAL_ONLY)
        pred = ["positive" if z > 0 else "negative" for z in model.logits([e.text for e in dev]).tolist()]
        f1 = classification_report(gold, pred, ("negative", "positive")).macro_f1
        by_l2[str(l2)] = f1
        print(f"  l2={l2:g}: dev macro-F1 {f1:.4f} ({time.perf_counter() - start:.0f} s)")
        if best is None or f1 > best[0]:
            best = (f1, model)
    assert best is not None
    return best[1], by_l2


def choose_neutral_shift(
    combiner: Combiner,
    binary: Scored,
    three: Scored | None,
    shifts: tuple[float, ...] = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5),
    margins: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5),
    objective: str = "three",
) -> tuple[Combiner, dict[str, dict[str, float]]]:
    """The neutral shift and margin that maximise 3-class dev macro-F1 (`objective="three"`: the
    three-label mode is for merchants who want neutral; binary mode answers good / bad), or the
    sum of that and binary dev accuracy where a neutral answer counts wrong ("both"). Without
    3-class dev data: none."""
    if three is None:
        return combiner, {}
    table: dict[str, dict[str, float]] = {}
    best: tuple[float, Combiner] | None = None
    for margin in margins:
        for shift in shifts:
            c = replace(combiner, neutral_shift=shift, neutral_margin=margin)
            acc = scores(binary[0], c.combine(binary[1], binary[2]))[0]
            f1 = scores(three[0], c.combine(three[1], three[2]))[1]
            table[f"shift {shift:+.1f} margin {margin:.1f}"] = {
                "binary_accuracy": acc,
                "three_class_macro_f1": f1,
            }
            score = f1 if objective == "three" else acc + f1
            if best is None or score > best[0]:
                best = (score, c)

    def rank(row: dict[str, float]) -> float:
        return row["three_class_macro_f1"] if objective == "three" else sum(row.values())

    for key, row in sorted(table.items(), key=lambda kv: -rank(kv[1]))[:5]:
        print(
            f"  neutral {key}: binary dev accuracy {row['binary_accuracy']:.4f}, "
            f"3-class dev macro-F1 {row['three_class_macro_f1']:.4f}"
        )
    assert best is not None
    return best[1], table


class AdapterError(Exception):
    """A classifier adapter that cannot be worked on; `code` is the command's exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def require_adapter(adapter: Path) -> None:
    """Refuse a directory that holds no trained classifier adapter (before any long work)."""
    if not (adapter / "adapter_config.json").is_file():
        raise AdapterError(
            f"{adapter} is not a classifier adapter (train one with `xiaoer train classifier`)", 2
        )


def head_classifier(adapter: Path, model: str) -> Classifier:
    """The classifier with the head trained in `adapter` on encoder `model`, without the clause
    tagger (what `train lexical` and `train calibrate` score dev with)."""
    from nlp.config import NLPConfig
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier

    cfg = NLPConfig(tagger="none")
    cfg.classifier.model = model
    cfg.classifier.adapter = str(adapter)
    try:
        classifier = load_classifier(cfg)
    except ModelLoadError as exc:
        raise AdapterError(f"cannot load the classifier: {exc}", 1) from exc
    if classifier.mode != "head":
        raise AdapterError(f"{adapter} has no classification head", 2)
    return classifier


def main(argv: list[str] | None = None) -> int:
    from nlp.models import ADAPTERS
    from training.data import read_label_refs
    from training.train_classifier import split_refs

    ap = argparse.ArgumentParser(
        prog="xiaoer train lexical", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--train", nargs="+", type=Path, required=True, help="labelled CSV/JSONL files")
    ap.add_argument("--dev", nargs="+", type=Path, required=True, help="labelled (binary) dev files")
    ap.add_argument("--refs", nargs="*", type=Path, default=[], help="3-class label references")
    ap.add_argument(
        "--dev-fraction", type=float, default=0.33, help="share of --refs held out (as in training)"
    )
    ap.add_argument("--seed", type=int, default=42, help="the classifier's seed (same refs split)")
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument(
        "--adapter",
        type=Path,
        required=True,
        help=f"trained classifier adapter (written into; the shipped one is {ADAPTERS / 'classifier'})",
    )
    ap.add_argument(
        "--objective",
        choices=["three", "both"],
        default="three",
        help="neutral shift chosen for 3-class macro-F1 (default), or for that plus strict binary accuracy",
    )
    ap.add_argument("--model", default="bundled", help="the encoder the adapter was trained on")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("--l2", type=float, nargs="+", default=[1e-6, 4e-7, 1.6e-7])
    ap.add_argument("--buckets", type=int, default=1 << 20)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        train: list[Example] = []
        for path in args.train:
            examples, report = read_labelled(path, args.text_column, args.label_column)
            print(f"{path}: {report}")
            train += polar(examples)
        dev: list[Example] = []
        for path in args.dev:
            examples, report = read_labelled(path, args.text_column, args.label_column)
            print(f"{path}: {report}")
            dev += examples
        refs: list[Example] = []
        for path in args.refs:
            refs += read_label_refs(path, args.shared_dir)[0]
        dev3 = split_refs(refs, args.dev_fraction, args.seed)[1] if refs else []
    except (DataError, OSError) as exc:
        print(f"cannot read training data: {exc}", file=sys.stderr)
        return 2
    held_out = {e.text for e in dev3}
    train = [e for e in train if e.text not in held_out]
    if len({e.label for e in train}) < 2 or not polar(dev):
        print("need positive and negative training rows and some polar dev rows", file=sys.stderr)
        return 2
    try:
        require_adapter(args.adapter)
    except AdapterError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    for stale in (META, WEIGHTS):  # the encoder alone must score dev, not an old combination
        (args.adapter / stale).unlink(missing_ok=True)

    lexical, by_l2 = fit_lexical(train, polar(dev), args.l2, Featurizer(buckets=args.buckets))
    try:
        classifier = head_classifier(args.adapter, args.model)
    except AdapterError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    start = time.perf_counter()
    sets = {}
    for name, rows in (("binary", dev), ("three", dev3)):
        if rows:
            texts = [e.text for e in rows]
            sets[name] = (
                [e.label for e in rows],
                classifier.encoder_probabilities(texts),
                lexical.logits(texts),
            )
    print(f"encoder scored {len(dev) + len(dev3)} dev texts in {time.perf_counter() - start:.0f} s")
    gold, enc, lex = sets["binary"]
    keep = torch.tensor([g != "neutral" for g in gold])
    y = torch.tensor([g == "positive" for g in gold])[keep]
    combiner = fit_combiner(polar_log_odds(enc)[keep], lex[keep], y)
    combiner, shifts = choose_neutral_shift(
        combiner, sets["binary"], sets.get("three"), objective=args.objective
    )
    results: dict[str, dict[str, float]] = {}
    for name, (g, e, x) in sets.items():
        for part, c in (("encoder", None), ("lexical", LEXICAL_ONLY), ("combined", combiner)):
            acc, f1 = scores(g, e if c is None else c.combine(e, x))
            results[f"{name}/{part}"] = {"accuracy": acc, "macro_f1": f1}
            print(f"dev {name:<6} {part:<8} accuracy {acc:.4f} macro-F1 {f1:.4f}")
    print(f"combiner: {combiner}")
    model = LexicalModel(lexical.featurizer, lexical.idf, lexical.weight, lexical.bias, combiner)
    model.save(
        args.adapter,
        {
            "train_files": [str(p) for p in args.train],
            "dev_files": [str(p) for p in args.dev],
            "refs": [str(p) for p in args.refs],
            "train_rows": len(train),
            "dev_rows": len(dev),
            "dev_three_class_rows": len(dev3),
            "dev_macro_f1_by_l2": by_l2,
            "dev_by_neutral_shift": shifts,
            "neutral_objective": args.objective,
            "dev": results,
        },
    )
    print(f"saved {WEIGHTS} and {META} in {args.adapter}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
