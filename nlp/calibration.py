"""Calibrated probabilities and the binary (good / bad) view of the classifier.

A classifier that says 0.9 should be right about nine times in ten. Fine-tuned encoders are
over-confident, and the lexical combination moves probabilities again, so `Calibration` applies
temperature scaling (Guo et al., 2017) to the final probabilities: p_i ∝ p_i^(1/T), one T for the
three labels and one for the positive-vs-negative log-odds that binary mode reports. Both are
fitted on dev data by `xiaoer train calibrate` and saved as `calibration.json` in the classifier's
adapter directory; without that file nothing changes (T = 1).

Binary mode (`XIAOER_NLP__CLASSIFIER__LABELS=binary`) is for merchants who want good / bad only:
p_positive = sigmoid(log(p_positive / p_negative) / T_binary), p_neutral = 0.

Synchronous and pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from nlp.lexical import polar_log_odds
from nlp.types import LABELS, Label

FILE = "calibration.json"
EPS = 1e-6
_NEG, _POS = LABELS.index("negative"), LABELS.index("positive")


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0  # three labels
    binary_temperature: float = 1.0  # positive vs negative, binary mode

    def three(self, probs: torch.Tensor) -> torch.Tensor:
        """(N, 3) probabilities in LABELS order, temperature-scaled."""
        return scale(probs, self.temperature)

    def binary(self, probs: torch.Tensor) -> torch.Tensor:
        """(N, 3) probabilities -> the same shape with neutral 0 and the polar odds scaled."""
        z = polar_log_odds(probs) / self.binary_temperature
        out = torch.zeros_like(probs)
        out[:, _POS] = torch.sigmoid(z)
        out[:, _NEG] = torch.sigmoid(-z)
        return out

    def save(self, directory: Path, extra: dict[str, object] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / FILE).write_text(json.dumps({**asdict(self), **(extra or {})}, indent=2))

    @classmethod
    def load(cls, directory: Path | None) -> Calibration:
        """The calibration saved in `directory`; identity when there is none."""
        path = directory / FILE if directory is not None else None
        if path is None or not path.is_file():
            return cls()
        meta = json.loads(path.read_text())
        t, tb = float(meta.get("temperature", 1.0)), float(meta.get("binary_temperature", 1.0))
        if not (0.05 <= t <= 20 and 0.05 <= tb <= 20):
            raise ValueError(f"{path}: temperatures must lie in [0.05, 20], got {t} and {tb}")
        return cls(t, tb)


def scale(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """p_i ∝ p_i^(1/T): temperature scaling of the logits the probabilities came from."""
    if temperature == 1.0:
        return probs
    return ((probs + EPS).log() / temperature).softmax(-1)


def fit_temperature(logits: torch.Tensor, target: torch.Tensor) -> float:
    """The T that minimises the negative log-likelihood of `target` under softmax(logits / T).

    `logits` (N, C) (log-probabilities will do), `target` (N,) class indices. T is searched as
    exp(s) so it stays positive; clamped to [0.05, 20]."""
    s = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([s], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")
    x = logits.float()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / s.exp(), target)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return float(min(20.0, max(0.05, math.exp(float(s.detach())))))


def fit(
    three: tuple[torch.Tensor, Sequence[Label]] | None, binary: tuple[torch.Tensor, Sequence[Label]] | None
) -> Calibration:
    """Temperatures from (probabilities, gold labels) of 3-class and of binary dev rows
    (binary rows with a neutral gold label are skipped); a part that is not given stays 1."""
    t = tb = 1.0
    if three is not None and len(three[1]):
        probs, gold = three
        t = fit_temperature((probs + EPS).log(), torch.tensor([LABELS.index(g) for g in gold]))
    if binary is not None:
        probs, gold = binary
        keep = [i for i, g in enumerate(gold) if g != "neutral"]
        if keep:
            z = polar_log_odds(probs[keep])
            logits = torch.stack([-z / 2, z / 2], dim=1)  # softmax gives sigmoid(z)
            y = torch.tensor([int(gold[i] == "positive") for i in keep])
            tb = fit_temperature(logits, y)
    return Calibration(t, tb)


def expected_calibration_error(probs: torch.Tensor, gold: Sequence[Label], bins: int = 15) -> float:
    """ECE of the top label: the confidence-weighted gap between confidence and accuracy over
    `bins` equal-width confidence bins (what a merchant reads as "how sure")."""
    if not len(gold):
        return 0.0
    conf, pred = probs.max(-1)
    right = torch.tensor([LABELS[int(p)] == g for p, g in zip(pred.tolist(), gold, strict=True)]).float()
    edges = torch.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += float(inside.float().mean()) * abs(
                float(conf[inside].mean()) - float(right[inside].mean())
            )
    return total
