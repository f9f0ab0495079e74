"""Fit the classifier's temperatures (nlp/calibration.py) on dev data and report calibration.

    R=../shared/data/reviews
    xiaoer train calibrate --adapter nlp/adapters/classifier \\
        --refs training/data/labels_3class_part*.csv \\
        --dev $R/{online_shopping_10_cats,waimai_10k,chnsenticorp_htl}_dev.csv

The classifier (with its lexical model, without any old calibration) scores the held-out part of
--refs (three labels, the split the classifier was trained with) and the polar rows of --dev
(positive vs negative). One temperature is fitted on each by negative log-likelihood; the
expected calibration error (ECE, 15 bins) before and after, the NLL and the accuracy (unchanged:
a temperature never changes which label is most probable) are printed and written with the
temperatures to `calibration.json` in --adapter, where the classifier picks them up.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from nlp.calibration import FILE, Calibration, expected_calibration_error, fit
from nlp.types import LABELS, Label
from training.data import DataError, Example, read_label_refs, read_labelled
from training.train_lexical import AdapterError, head_classifier, require_adapter


def nll(probs: torch.Tensor, gold: Sequence[Label]) -> float:
    idx = torch.tensor([LABELS.index(g) for g in gold])
    return float(-(probs[torch.arange(len(gold)), idx] + 1e-6).log().mean())


def measures(probs: torch.Tensor, gold: Sequence[Label]) -> dict[str, float]:
    right = sum(LABELS[int(i)] == g for i, g in zip(probs.argmax(-1).tolist(), gold, strict=True))
    return {
        "ece": round(expected_calibration_error(probs, gold), 4),
        "nll": round(nll(probs, gold), 4),
        "accuracy": round(right / max(1, len(gold)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    from training.train_classifier import split_refs

    ap = argparse.ArgumentParser(
        prog="xiaoer train calibrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--adapter", type=Path, required=True, help="the classifier adapter to calibrate")
    ap.add_argument("--model", default="bundled", help="the encoder the adapter was trained on")
    ap.add_argument("--refs", nargs="*", type=Path, default=[], help="3-class label references")
    ap.add_argument("--dev", nargs="*", type=Path, default=[], help="labelled (binary) dev files")
    ap.add_argument(
        "--dev-fraction", type=float, default=0.33, help="share of --refs held out (as in training)"
    )
    ap.add_argument("--seed", type=int, default=42, help="the classifier's seed (same refs split)")
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        refs: list[Example] = []
        for path in args.refs:
            refs += read_label_refs(path, args.shared_dir)[0]
        three = split_refs(refs, args.dev_fraction, args.seed)[1] if refs else []
        binary: list[Example] = []
        for path in args.dev:
            binary += [
                e for e in read_labelled(path, args.text_column, args.label_column)[0] if e.label != "neutral"
            ]
    except (DataError, OSError) as exc:
        print(f"cannot read the data: {exc}", file=sys.stderr)
        return 2
    if not three and not binary:
        print("nothing to calibrate on: give --refs and/or --dev", file=sys.stderr)
        return 2
    try:
        require_adapter(args.adapter)
        classifier = head_classifier(args.adapter, args.model)
    except AdapterError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    start = time.perf_counter()
    scored = {
        name: (classifier.raw_probabilities([e.text for e in rows]), [e.label for e in rows])
        for name, rows in (("three", three), ("binary", binary))
        if rows
    }
    print(f"scored {len(three) + len(binary)} dev reviews in {time.perf_counter() - start:.0f} s")
    cal = fit(scored.get("three"), scored.get("binary"))
    report: dict[str, dict[str, object]] = {}
    for name, (probs, gold) in scored.items():
        before = Calibration().binary(probs) if name == "binary" else probs
        after = cal.binary(probs) if name == "binary" else cal.three(probs)
        report[name] = {"rows": len(gold), "before": measures(before, gold), "after": measures(after, gold)}
        t = cal.binary_temperature if name == "binary" else cal.temperature
        b, a = report[name]["before"], report[name]["after"]
        print(
            f"dev {name:<6} ({len(gold)} rows) T={t:.3f}: ECE {b['ece']:.4f} -> {a['ece']:.4f}, "  # type: ignore[index]
            f"NLL {b['nll']:.4f} -> {a['nll']:.4f}, accuracy {a['accuracy']:.4f}"  # type: ignore[index]
        )
    cal.save(
        args.adapter,
        {"refs": [str(p) for p in args.refs], "dev_files": [str(p) for p in args.dev], "dev": report},
    )
    print(f"saved {FILE} in {args.adapter}")
    return 0
