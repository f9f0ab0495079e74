"""What both training scripts share: the loop, its resumable state and the learning-rate schedule."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


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


def total_steps(batches: int, grad_accum: int, epochs: int) -> int:
    return math.ceil(batches / grad_accum) * epochs


def fit(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train_dl: DataLoader[dict[str, torch.Tensor]],
    *,
    loss_fn: Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor],
    evaluate: Callable[[], dict[str, float]],
    score: Callable[[dict[str, float]], float],
    save: Callable[[], None],
    ckpt: Path,
    epochs: int,
    grad_accum: int,
    eval_every: int,
    patience: int,
    resume: bool = True,
    eval_at_start: bool = False,
    desc: str = "train",
) -> tuple[TrainState, float]:
    """The loop both scripts run: accumulate, step, evaluate every `eval_every` optimizer steps,
    keep the best checkpoint by `score` (higher is better), stop after `patience` evaluations
    without improvement, and save everything needed to resume. Returns the state and seconds."""
    total = total_steps(len(train_dl), grad_accum, epochs)
    state = TrainState()
    if resume and (ckpt / "state.json").is_file():
        accelerator.load_state(str(ckpt))
        state = TrainState.load(ckpt / "state.json")
        accelerator.print(f"resumed from step {state.step} (best score {state.best:.4f})")
    if eval_at_start and state.step == 0:
        metrics = evaluate()
        state.history.append({"step": 0, **_dev(metrics)})
        accelerator.print("step 0: " + _fmt(metrics))

    start = time.perf_counter()
    model.train()
    bar = tqdm(total=total, initial=state.step, desc=desc, disable=not accelerator.is_main_process)
    for epoch in range(epochs):
        # a resumed run skips the batches its finished steps already used
        skip = state.step * grad_accum - epoch * len(train_dl)
        if skip >= len(train_dl):
            continue
        for batch in accelerator.skip_first_batches(train_dl, skip) if skip > 0 else train_dl:
            with accelerator.accumulate(model):
                loss = loss_fn(model, batch)
                accelerator.backward(loss)
                optimizer.step()  # accelerate skips it until the last accumulated micro-batch
                if accelerator.sync_gradients:  # the schedule counts optimizer steps, not micro-batches
                    scheduler.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            state.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if state.step % eval_every and state.step != total:
                continue
            metrics = evaluate()
            state.history.append({"step": state.step, "train_loss": loss.item(), **_dev(metrics)})
            accelerator.print(f"step {state.step}: " + _fmt(metrics))
            if score(metrics) > state.best:
                state.best, state.bad_evals = score(metrics), 0
                save()
            else:
                state.bad_evals += 1
            accelerator.save_state(str(ckpt))
            if accelerator.is_main_process:
                state.save(ckpt / "state.json")
            if state.bad_evals >= patience:
                accelerator.print("early stop: the dev score stopped improving")
                bar.close()
                return state, time.perf_counter() - start
    bar.close()
    return state, time.perf_counter() - start


def _dev(metrics: dict[str, float]) -> dict[str, float]:
    return {f"dev_{k}": v for k, v in metrics.items()}


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"dev {k} {v:.4f}" for k, v in metrics.items())


NUMERIC = {"int": int, "float": float}


def add_config_args(ap: argparse.ArgumentParser, config: type[Any]) -> None:
    """One --flag per numeric field of a training config dataclass (unset: the field's default)."""
    for f in fields(config):
        kind = NUMERIC.get(str(f.type))
        if kind is not None:
            ap.add_argument("--" + f.name.replace("_", "-"), type=kind, default=None)


def config_overrides(args: argparse.Namespace, config: type[Any]) -> dict[str, Any]:
    """The numeric config fields the command line set."""
    names = {f.name for f in fields(config) if str(f.type) in NUMERIC}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}
