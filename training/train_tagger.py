"""Fit the clause tagger (nlp/tagger.py) on our clause labels.

    xiaoer train tagger --train training/data/clause_tags_train.csv \\
        --dev training/data/clause_tags_dev.csv --out runs/tagger

The label files hold references, not texts: file, row and sha1 of a review in the shared splits,
a clause's start and end in it, its polarity (-1/0/1) and its tags (keys of nlp/tags.py, joined
by ";"). Two multinomial logistic layers (tag, polarity) over sparse named features, fitted by
L-BFGS; the L2 strength is chosen on dev by tag F1 + polarity accuracy, then the threshold a
tag's probability must reach, by F0.5 on dev (issues named wrongly cost more than issues left
unnamed: precision is weighted twice) unless `--threshold` sets it. Dev figures go into
tagger.json.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from nlp.tagger import NONE, POLARITIES, Tagger, encode, features
from nlp.tags import BY_KEY, TAGS, Domain
from training.data import DataError, text_hash


@dataclass(frozen=True)
class Row:
    clause: str
    previous: str
    domain: Domain
    label: str  # the review's label in its file
    polarity: int
    tags: tuple[str, ...]
    ref: str


def domain_of_file(name: str, category: str) -> Domain:
    if "waimai" in name:
        return "food"
    if "htl" in name or category == "酒店":
        return "stay"
    return "goods"


def read_clause_refs(path: Path, shared_dir: Path) -> list[Row]:
    """Join our clause labels with the shared review files (each file read once)."""
    files: dict[str, list[dict[str, str]]] = {}
    rows: list[Row] = []
    with path.open(encoding="utf-8", newline="") as f:
        refs = list(csv.DictReader(f))
    by_review: dict[tuple[str, int], list[dict[str, str]]] = {}
    for i, r in enumerate(refs):
        try:
            key = (r["file"], int(r["row"]))
            int(r["start"]), int(r["end"]), int(r["pol"])
        except (KeyError, ValueError) as exc:
            raise DataError(f"{path}:{i + 2}: needs file,row,sha1,start,end,pol,tags ({exc})") from None
        unknown = [t for t in filter(None, r.get("tags", "").split(";")) if t not in BY_KEY]
        if unknown:
            raise DataError(f"{path}:{i + 2}: unknown tag(s) {', '.join(unknown)}")
        by_review.setdefault(key, []).append(r)
    for (name, row), clauses in by_review.items():
        if name not in files:
            with (shared_dir / name).open(encoding="utf-8", newline="") as f:
                files[name] = list(csv.DictReader(f))
        review = files[name][row]
        text = review["text"]
        if text_hash(text) != clauses[0]["sha1"]:
            raise DataError(f"{path}: {name} row {row} changed (sha1 differs); relabel it")
        domain = domain_of_file(name, review.get("category", ""))
        clauses.sort(key=lambda r: int(r["start"]))
        previous = ""
        for r in clauses:
            clause = text[int(r["start"]) : int(r["end"])]
            tags = tuple(filter(None, r.get("tags", "").split(";")))
            rows.append(Row(clause, previous, domain, review["label"], int(r["pol"]), tags, f"{name}:{row}"))
            previous = clause
    return rows


def _targets(rows: Sequence[Row], tags: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tag targets as a distribution (two tags share the mass), polarity as a class index."""
    tag_t = torch.zeros(len(rows), len(tags))
    for i, r in enumerate(rows):
        keys = [k for k in r.tags if k in tags] or [NONE]
        for k in keys:
            tag_t[i, tags.index(k)] += 1.0 / len(keys)
    pol_t = torch.tensor([POLARITIES.index(r.polarity) for r in rows])
    return tag_t, pol_t


def fit(train: Sequence[Row], l2: float, min_count: int = 2, steps: int = 300) -> Tagger:
    feats = [features(r.clause, r.previous, r.domain, r.label) for r in train]
    counts: Counter[str] = Counter(g for row in feats for g in row)
    vocab = {g: i for i, g in enumerate(sorted(g for g, c in counts.items() if c >= min_count))}
    df = torch.zeros(len(vocab))
    for row in feats:
        ids = [vocab[g] for g in row if g in vocab]
        df[ids] += 1
    idf = ((1 + len(feats)) / (1 + df)).log() + 1
    used = Counter(k for r in train for k in r.tags)
    tags = (NONE, *(t.key for t in TAGS if used[t.key]))
    tag_t, pol_t = _targets(train, tags)
    idx, off, w = encode(feats, vocab, idf)
    params = [
        torch.zeros(len(vocab), len(tags), requires_grad=True),
        torch.zeros(len(tags), requires_grad=True),
        torch.zeros(len(vocab), 3, requires_grad=True),
        torch.zeros(3, requires_grad=True),
    ]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")
    bag = torch.nn.functional.embedding_bag

    def closure() -> torch.Tensor:
        opt.zero_grad()
        tw, tb, pw, pb = params
        tag = bag(idx, tw, off, mode="sum", per_sample_weights=w) + tb
        pol = bag(idx, pw, off, mode="sum", per_sample_weights=w) + pb
        loss = -(tag_t * tag.log_softmax(-1)).sum(-1).mean()
        loss = loss + torch.nn.functional.cross_entropy(pol, pol_t)
        loss = loss + l2 * (tw.pow(2).sum() + pw.pow(2).sum())
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    tw, tb, pw, pb = (p.detach() for p in params)
    return Tagger(vocab, idf, tw, tb, pw, pb, tags, threshold=0.0)


@dataclass(frozen=True)
class Scores:
    polarity_accuracy: float
    tag_precision: float  # of the tags named, how many the labeller gave
    tag_recall: float  # of the labeller's tags, how many were named
    tag_f1: float
    named: int

    def line(self) -> str:
        return (
            f"polarity acc {self.polarity_accuracy:.3f}; tags P {self.tag_precision:.3f} "
            f"R {self.tag_recall:.3f} F1 {self.tag_f1:.3f} ({self.named} named)"
        )


def score(tagger: Tagger, rows: Sequence[Row]) -> Scores:
    """Per clause: the polarity, and the one tag named (if any) against the labeller's tags."""
    by_review: dict[str, list[Row]] = {}
    for r in rows:
        by_review.setdefault(r.ref, []).append(r)
    pol_ok = named = right = gold = 0
    for review_rows in by_review.values():
        first = review_rows[0]
        got = tagger.tag([r.clause for r in review_rows], first.domain, first.label)
        for r, g in zip(review_rows, got, strict=True):
            pol_ok += g.polarity == r.polarity
            gold += bool(r.tags)
            if g.tag is not None:
                named += 1
                right += g.tag.key in r.tags
    p = right / named if named else 0.0
    rec = right / gold if gold else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return Scores(pol_ok / max(1, len(rows)), p, rec, f1, named)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="xiaoer train tagger", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--train", nargs="+", type=Path, required=True, help="clause label references (CSV)")
    ap.add_argument("--dev", nargs="+", type=Path, required=True)
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--l2", nargs="+", type=float, default=[1e-4, 3e-5, 1e-5, 3e-6])
    ap.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="a tag's least probability (default: chosen on dev by F0.5)",
    )
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        train = [r for p in args.train for r in read_clause_refs(p, args.shared_dir)]
        dev = [r for p in args.dev for r in read_clause_refs(p, args.shared_dir)]
    except (DataError, OSError, IndexError) as exc:
        print(f"cannot read clause labels: {exc}", file=sys.stderr)
        return 2
    print(f"train {len(train)} clauses, dev {len(dev)}")
    best: tuple[float, float, Tagger] | None = None
    for l2 in args.l2:
        tagger = fit(train, l2)
        tagger.threshold = 0.3
        s = score(tagger, dev)
        print(f"l2 {l2:g}: {s.line()}")
        key = s.tag_f1 + s.polarity_accuracy
        if best is None or key > best[0]:
            best = (key, l2, tagger)
    assert best is not None
    _, l2, tagger = best
    thresholds = {}
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        tagger.threshold = t
        s = score(tagger, dev)
        thresholds[t] = s
        print(f"threshold {t}: {s.line()}")

    def weighted(s: Scores) -> float:  # F-beta with beta 0.5: precision counts twice
        b2 = 0.25
        p, r = s.tag_precision, s.tag_recall
        return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0

    tagger.threshold = max(thresholds, key=lambda t: weighted(thresholds[t]))
    if args.threshold is not None:
        tagger.threshold = args.threshold
        thresholds[args.threshold] = score(tagger, dev)
    final = thresholds[tagger.threshold]
    print(f"chosen l2 {l2:g}, threshold {tagger.threshold}: {final.line()}")
    tagger.save(
        args.out,
        extra={
            "l2": l2,
            "train_clauses": len(train),
            "dev_clauses": len(dev),
            "dev": final.__dict__,
            "train_files": [str(p) for p in args.train],
        },
    )
    print(f"tagger in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
