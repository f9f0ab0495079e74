"""Pieces both training scripts share: resumable state and the learning-rate schedule."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch


@dataclass
class TrainState:
    """What a resumed run needs besides the weights and optimizer (saved by accelerate)."""

    step: int = 0  # optimizer steps done
    best: float = float("-inf")  # best dev score so far (higher is better)
    bad_evals: int = 0  # evaluations since the best one
    history: list[dict[str, float]] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> TrainState:
        return cls(**json.loads(path.read_text()))


def linear_schedule(
    optimizer: torch.optim.Optimizer, total: int, warmup: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base rate over `warmup` steps, then linear decay to 0 at `total`."""

    def factor(step: int) -> float:
        return min(1.0, (step + 1) / max(1, warmup)) * max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
