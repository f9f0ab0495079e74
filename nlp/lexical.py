"""A lexical sentiment model that sits beside the encoder: hashed character n-grams, TF-IDF
weighted, and one logistic layer giving the log-odds of positive vs negative.

Why: the fine-tuned e5-small generalises (it reads "物流慢" and "快递龟速" alike), while
character n-grams remember the exact phrasing of the domains we trained on ("不值这个价",
"送餐员态度"), which a small encoder trained for an hour on a CPU does not. The two make
different mistakes, so `Combiner` adds their polar log-odds with weights fitted on dev data
and leaves the encoder's neutral probability as it is (the binary training data carries no
neutral signal).

Synchronous and pure; saved as `lexical.safetensors` + `lexical.json` inside the classifier
adapter directory, and picked up by `nlp.classifier.Classifier` when present.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from nlp.types import LABELS

WEIGHTS = "lexical.safetensors"
META = "lexical.json"
_SPACE = re.compile(r"\s+")


def polar_log_odds(probs: torch.Tensor) -> torch.Tensor:
    """log(p_positive / p_negative) of (N, 3) probabilities in LABELS order."""
    eps = 1e-6
    pos, neg = LABELS.index("positive"), LABELS.index("negative")
    return (probs[:, pos] + eps).log() - (probs[:, neg] + eps).log()


@dataclass(frozen=True)
class Combiner:
    """polar log-odds z = encoder * log(p_pos / p_neg) + lexical * lexical_logit + bias.

    The encoder's neutral log-odds are lowered by neutral_shift + neutral_margin * |z|: strong
    polar evidence from both models makes "neutral" less likely. Both are chosen on dev data
    (binary test sets count every neutral answer as wrong, 3-class sets need them)."""

    encoder: float = 1.0
    lexical: float = 0.0
    bias: float = 0.0
    neutral_shift: float = 0.0
    neutral_margin: float = 0.0

    def combine(self, probs: torch.Tensor, lexical_logits: torch.Tensor) -> torch.Tensor:
        """(N, 3) probabilities in LABELS order -> the same with the polar split re-estimated."""
        neg, neu, pos = (LABELS.index(x) for x in ("negative", "neutral", "positive"))
        eps = 1e-6
        z = self.encoder * polar_log_odds(probs) + self.lexical * lexical_logits + self.bias
        p_neu = probs[:, neu].clamp(eps, 1 - eps)
        odds = p_neu / (1 - p_neu) * torch.exp(-self.neutral_shift - self.neutral_margin * z.abs())
        out = probs.clone()
        out[:, neu] = odds / (1 + odds)
        rest = 1.0 - out[:, neu]
        out[:, pos] = rest * torch.sigmoid(z)
        out[:, neg] = rest * torch.sigmoid(-z)
        return out


@dataclass(frozen=True)
class Featurizer:
    buckets: int = 1 << 20
    min_n: int = 1
    max_n: int = 3

    def grams(self, text: str) -> Counter[int]:
        s = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()
        counts: Counter[int] = Counter()
        for n in range(self.min_n, self.max_n + 1):
            for i in range(len(s) - n + 1):
                counts[zlib.crc32(s[i : i + n].encode()) % self.buckets] += 1
        return counts

    def sparse(
        self, texts: Sequence[str], idf: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices, offsets, weights) for nn.functional.embedding_bag: sublinear tf x idf,
        L2-normalised per text (an empty text has no features and scores the bias alone)."""
        indices: list[int] = []
        offsets: list[int] = []
        weights: list[float] = []
        for text in texts:
            offsets.append(len(indices))
            counts = self.grams(text)
            ids = list(counts)
            tf = torch.tensor([1.0 + math.log(counts[b]) for b in ids])
            w = tf * idf[ids] if idf is not None and ids else tf
            norm = float(w.norm()) or 1.0
            indices += ids
            weights += (w / norm).tolist()
        return (
            torch.tensor(indices, dtype=torch.long),
            torch.tensor(offsets, dtype=torch.long),
            torch.tensor(weights, dtype=torch.float32),
        )

    def idf(self, texts: Sequence[str]) -> torch.Tensor:
        df = torch.zeros(self.buckets)
        for text in texts:
            ids = list(self.grams(text))
            if ids:
                df[ids] += 1
        return ((1 + len(texts)) / (1 + df)).log() + 1


class LexicalModel:
    def __init__(
        self, featurizer: Featurizer, idf: torch.Tensor, weight: torch.Tensor, bias: float, combiner: Combiner
    ) -> None:
        self.featurizer = featurizer
        self.idf = idf
        self.weight = weight  # (buckets,)
        self.bias = bias
        self.combiner = combiner

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Log-odds of positive vs negative, (N,) float32."""
        if not texts:
            return torch.zeros(0)
        idx, off, w = self.featurizer.sparse(texts, self.idf)
        scores = torch.nn.functional.embedding_bag(
            idx, self.weight.float().unsqueeze(1), off, mode="sum", per_sample_weights=w
        )
        return scores.squeeze(1) + self.bias

    def save(self, directory: Path, extra: dict[str, object] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {"weight": self.weight.half().contiguous(), "idf": self.idf.half().contiguous()},
            str(directory / WEIGHTS),
        )
        meta = {
            "featurizer": asdict(self.featurizer),
            "bias": self.bias,
            "combiner": asdict(self.combiner),
            **(extra or {}),
        }
        (directory / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2))

    @classmethod
    def load(cls, directory: Path) -> LexicalModel | None:
        """The model saved in `directory`, or None when there is none."""
        if not (directory / META).is_file() or not (directory / WEIGHTS).is_file():
            return None
        meta = json.loads((directory / META).read_text())
        tensors = load_file(str(directory / WEIGHTS))
        return cls(
            Featurizer(**meta["featurizer"]),
            tensors["idf"].float(),
            tensors["weight"].float(),
            float(meta["bias"]),
            Combiner(**meta["combiner"]),
        )


def fit_logistic(
    idx: torch.Tensor,
    off: torch.Tensor,
    w: torch.Tensor,
    y: torch.Tensor,
    buckets: int,
    l2: float,
    steps: int = 200,
) -> tuple[torch.Tensor, float]:
    """L2-regularised logistic regression on sparse rows, full batch, L-BFGS. y in {0, 1}."""
    weight = torch.zeros(buckets, 1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe"
    )
    target = y.float()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = torch.nn.functional.embedding_bag(idx, weight, off, mode="sum", per_sample_weights=w).squeeze(1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z + bias, target)
        loss = loss + l2 * weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return weight.detach().squeeze(1), float(bias.detach())


def fit_combiner(encoder_polar: torch.Tensor, lexical: torch.Tensor, y: torch.Tensor) -> Combiner:
    """Weights of the two polar log-odds (plus a bias) by logistic regression on dev rows."""
    x = torch.stack([encoder_polar, lexical], dim=1).float()
    coef = torch.zeros(2, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([coef, bias], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ coef + bias, y.float())
        loss = loss + 1e-4 * coef.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    a, b = coef.detach().tolist()
    return Combiner(encoder=a, lexical=b, bias=float(bias.detach()))
