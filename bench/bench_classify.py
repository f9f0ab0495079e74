"""Classification speed on this machine, side by side in one run: reviews per second of the
shipped classifier at batch 32 against one review per call, and what each stage costs.

  python bench/bench_classify.py [--data ../shared/data/reviews] [--n 1000] [--json out.json]

The same N test-split reviews (online_shopping, waimai and hotels in turn) go through:
- the encoder alone (LoRA head, no lexical model), batch 32 and one per call;
- the whole classifier as the product runs it (encoder + lexical model + calibration, and the
  clause tagger's polarity per aspect), batch 32 and one per call.
Each figure is the best of --repeat runs (these machines are noisy). Prints a table and, with
--json, writes the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from nlp.config import NLPConfig
from nlp.models import load_classifier

SPLITS = ("online_shopping_10_cats", "waimai_10k", "chnsenticorp_htl")


def reviews(data: Path, n: int) -> list[str]:
    columns = []
    for name in SPLITS:
        with (data / f"{name}_test.csv").open(encoding="utf-8") as f:
            columns.append([r["text"] for r in csv.DictReader(f) if r["text"].strip()])
    out = [text for row in zip(*columns, strict=False) for text in row]  # the sets in turn
    return out[:n]


def rate(fn: Callable[[Sequence[str]], object], texts: list[str], batch: int, repeat: int) -> float:
    """Reviews per second, best of `repeat` passes over `texts` in calls of `batch`."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            fn(texts[i : i + batch])
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--n", type=int, default=1000, help="reviews (batch 32); a fifth of them one per call")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    texts = reviews(args.data, args.n)
    single = texts[: max(32, len(texts) // 5)]
    clf = load_classifier(NLPConfig())
    clf.classify(texts[:64])  # warm-up
    stages: dict[str, Callable[[Sequence[str]], object]] = {
        "encoder alone": clf.encoder_probabilities,
        "classifier (encoder + lexical + calibration + aspect polarity)": clf.classify,
    }
    figures: dict[str, dict[str, float]] = {}
    for name, fn in stages.items():
        figures[name] = {
            "batch 32 reviews/s": rate(fn, texts, 32, args.repeat),
            "one per call reviews/s": rate(fn, single, 1, args.repeat),
        }
    chars = sum(map(len, texts)) / len(texts)
    print(
        f"{len(texts)} test reviews (mean {chars:.0f} chars; {len(single)} for one per call), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
        f"encoder dtype {clf.loaded.dtype}, tagger {'on' if clf.tagger is not None else 'off'}"
    )
    print("| stage | batch 32 (reviews/s) | one per call (reviews/s) | speed-up |")
    print("|---|---|---|---|")
    for name, f in figures.items():
        b, one = f["batch 32 reviews/s"], f["one per call reviews/s"]
        print(f"| {name} | {b:.1f} | {one:.1f} | {b / one:.1f}x |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB")
    if args.json:
        out = {"reviews": len(texts), "mean_chars": chars, "figures": figures}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
