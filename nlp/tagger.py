"""The clause tagger: per clause of a review, its polarity and the issue it raises (nlp/tags.py).

A hand-written lexicon (nlp/issues.py) names what it was written for and nothing else, and it
cannot tell "服务员态度特别好" from a complaint about attitude. The tagger is learned from clauses
of real reviews that we labelled (training/data/clause_tags_train.csv, references into the shared
train splits): two logistic layers over the clause's character 1-3 grams, a few grams of the clause
before it (a clause often continues the last one's point), the kind of shop and the review's
overall label. Small (a few MB), fast (a review's clauses in about a millisecond each), and
honest about doubt: every answer carries its probability, and a tag is named only above a
threshold (0.4 in the shipped tagger; its model card gives the trade-off on dev).

Synchronous and pure: `Tagger.tag(clauses, domain, label)` from texts to `ClauseTag`s
(`tag_many` for a batch of reviews); `aspect_polarity` turns them into a sign per aspect.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file

from nlp.tags import BY_KEY, Domain, Tag
from nlp.types import ASPECTS

WEIGHTS = "tagger.safetensors"
META = "tagger.json"
NONE = "none"  # the tag column of a clause that raises no issue
POLARITIES: tuple[int, ...] = (-1, 0, 1)
_SPACE = re.compile(r"\s+")
Polarity = Literal[-1, 0, 1]


@dataclass(frozen=True)
class ClauseTag:
    polarity: Polarity
    polarity_p: float
    tag: Tag | None  # None: no issue, or not one the tagger is sure of
    tag_p: float  # the probability of `tag` (of "none" when tag is None)


def _norm(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def features(clause: str, previous: str, domain: str, label: str) -> Counter[str]:
    """Named features of one clause in its review: its 1-3 grams, the previous clause's last
    1-2 grams (a continuation), the kind of shop and the review's overall label."""
    s = _norm(clause)
    out: Counter[str] = Counter()
    for n in (1, 2, 3):
        for i in range(len(s) - n + 1):
            out[s[i : i + n]] += 1
    p = _norm(previous)[-6:]
    for n in (1, 2):
        for i in range(len(p) - n + 1):
            out["<p>" + p[i : i + n]] += 1
    out["<d>" + domain] += 1
    out["<l>" + label] += 1
    return out


class Tagger:
    def __init__(
        self,
        vocab: dict[str, int],
        idf: torch.Tensor,
        tag_weight: torch.Tensor,
        tag_bias: torch.Tensor,
        pol_weight: torch.Tensor,
        pol_bias: torch.Tensor,
        tags: tuple[str, ...],
        threshold: float,
    ) -> None:
        self.vocab = vocab
        self.idf = idf  # (V,)
        self.tag_weight = tag_weight  # (V, T): T = len(tags), column 0 is NONE
        self.tag_bias = tag_bias  # (T,)
        self.pol_weight = pol_weight  # (V, 3) in POLARITIES order
        self.pol_bias = pol_bias  # (3,)
        self.tags = tags
        self.threshold = threshold

    def logits(self, rows: Sequence[Counter[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        idx, off, w = encode(rows, self.vocab, self.idf)
        bag = torch.nn.functional.embedding_bag
        tag = bag(idx, self.tag_weight, off, mode="sum", per_sample_weights=w) + self.tag_bias
        pol = bag(idx, self.pol_weight, off, mode="sum", per_sample_weights=w) + self.pol_bias
        return tag, pol

    def tag(self, clauses: Sequence[str], domain: Domain, label: str) -> list[ClauseTag]:
        """One review's clauses read in its shop's domain; `label` is the review's lean, positive or
        negative (Sentiment.lean): the tagger was trained on reviews labelled one or the other."""
        return self.tag_many([clauses], domain, [label])[0]

    def tag_many(
        self, reviews: Sequence[Sequence[str]], domain: Domain, labels: Sequence[str]
    ) -> list[list[ClauseTag]]:
        """`tag` for a batch of reviews (their clauses, their labels) in one pass over the weights."""
        rows = [
            features(c, clauses[i - 1] if i else "", domain, label)
            for clauses, label in zip(reviews, labels, strict=True)
            for i, c in enumerate(clauses)
        ]
        if not rows:
            return [[] for _ in reviews]
        tag_logits, pol_logits = self.logits(rows)
        tag_rows, pol_rows = tag_logits.softmax(-1).tolist(), pol_logits.softmax(-1).tolist()
        flat = [self._answer(t, p, domain) for t, p in zip(tag_rows, pol_rows, strict=True)]
        out, start = [], 0
        for clauses in reviews:
            out.append(flat[start : start + len(clauses)])
            start += len(clauses)
        return out

    def _answer(self, tag_probs: list[float], pol_probs: list[float], domain: Domain) -> ClauseTag:
        pi = max(range(len(pol_probs)), key=pol_probs.__getitem__)
        polarity: Polarity = POLARITIES[pi]  # type: ignore[assignment]
        best = self._best(tag_probs, polarity, domain)
        return ClauseTag(polarity, pol_probs[pi], BY_KEY[self.tags[best]] if best else None, tag_probs[best])

    def _best(self, probs: list[float], polarity: int, domain: Domain) -> int:
        """The most probable tag that fits the clause's polarity and the shop (0: none), if sure."""
        for j in sorted(range(len(probs)), key=probs.__getitem__, reverse=True):
            if j == 0:
                return 0
            tag = BY_KEY[self.tags[j]]
            if tag.polarity == polarity and domain in tag.domains:
                return j if probs[j] >= self.threshold else 0
        return 0

    def save(self, directory: Path, extra: dict[str, object] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {
                "idf": self.idf.half().contiguous(),
                "tag_weight": self.tag_weight.half().contiguous(),
                "tag_bias": self.tag_bias.float().contiguous(),
                "pol_weight": self.pol_weight.half().contiguous(),
                "pol_bias": self.pol_bias.float().contiguous(),
            },
            str(directory / WEIGHTS),
        )
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        meta = {"tags": list(self.tags), "threshold": self.threshold, "vocab": vocab, **(extra or {})}
        (directory / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, directory: Path) -> Tagger | None:
        """The tagger saved in `directory`, or None when there is none."""
        if not (directory / META).is_file() or not (directory / WEIGHTS).is_file():
            return None
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
        tensors = load_file(str(directory / WEIGHTS))
        tags = tuple(meta["tags"])
        unknown = [t for t in tags if t != NONE and t not in BY_KEY]
        if unknown:
            raise ValueError(f"{directory / META}: tags not in nlp/tags.py: {', '.join(unknown)}")
        return cls(
            {g: i for i, g in enumerate(meta["vocab"])},
            tensors["idf"].float(),
            tensors["tag_weight"].float(),
            tensors["tag_bias"].float(),
            tensors["pol_weight"].float(),
            tensors["pol_bias"].float(),
            tags,
            float(meta["threshold"]),
        )


def encode(
    rows: Sequence[Counter[str]], vocab: dict[str, int], idf: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    indices: list[int] = []
    offsets: list[int] = []
    weights: list[float] = []
    for row in rows:
        offsets.append(len(indices))
        ids = [vocab[g] for g in row if g in vocab]
        if not ids:
            continue
        tf = torch.tensor([1.0 + math.log(row[g]) for g in row if g in vocab])
        w = tf * idf[ids]
        indices += ids
        weights += (w / (float(w.norm()) or 1.0)).tolist()
    return (
        torch.tensor(indices, dtype=torch.long),
        torch.tensor(offsets, dtype=torch.long),
        torch.tensor(weights, dtype=torch.float32),
    )


def aspect_polarity(
    clause_aspects: Sequence[Sequence[str]], tags: Sequence[ClauseTag], min_p: float = 0.5
) -> dict[str, int]:
    """Each aspect a review mentions with the sign of what its clauses say about it: "物流快，但
    质量一般" -> {"logistics": 1, "quality": -1}. A clause's aspects are its tag's (when the tag
    names one of nlp.types.ASPECTS) and the ones the aspect lexicon finds in it; its polarity
    counts when the tagger is at least `min_p` sure. An aspect praised and criticised as often
    gets 0 (mixed)."""
    score: dict[str, int] = {}
    for aspects, t in zip(clause_aspects, tags, strict=True):
        named = list(aspects)
        if t.tag is not None and t.tag.aspect in ASPECTS and t.tag.aspect not in named:
            named.insert(0, t.tag.aspect)
        polarity = t.polarity if t.polarity_p >= min_p else 0
        for aspect in named:
            score[aspect] = score.get(aspect, 0) + polarity
    return {a: (s > 0) - (s < 0) for a, s in score.items()}
