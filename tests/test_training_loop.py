"""The shared training loop: gradient accumulation, the schedule, evaluation, early stopping."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from training.loop import fit, linear_schedule, total_steps


def test_the_schedule_counts_optimizer_steps_and_training_continues_after_each_evaluation(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    accelerator = Accelerator(gradient_accumulation_steps=4)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [{"x": torch.randn(3), "y": torch.randn(1)} for _ in range(32)]
    dl: DataLoader[dict[str, torch.Tensor]] = DataLoader(data, batch_size=2)  # type: ignore[arg-type]
    model, optimizer, dl = accelerator.prepare(model, optimizer, dl)
    total = total_steps(len(dl), 4, 2)  # 16 micro-batches / 4 = 4 optimizer steps per epoch
    scheduler = linear_schedule(optimizer, total, warmup=2)
    weights: list[torch.Tensor] = []
    rates: list[float] = []

    def evaluate() -> dict[str, float]:
        weights.append(model.weight.detach().clone())
        rates.append(scheduler.get_last_lr()[0])
        return {"score": float(len(weights))}  # always improving: no early stop

    state, _ = fit(
        accelerator, model, optimizer, scheduler, dl,
        loss_fn=lambda m, b: torch.nn.functional.mse_loss(m(b["x"]), b["y"]),
        evaluate=evaluate, score=lambda m: m["score"], save=lambda: None, ckpt=tmp_path / "ckpt",
        epochs=2, grad_accum=4, eval_every=2, patience=3,
    )  # fmt: skip
    assert total == 8 and state.step == 8
    assert scheduler.last_epoch == 8  # one schedule step per optimizer step, not per micro-batch
    assert rates[-1] == 0.0 and 0.0 < rates[0] <= 0.1  # decays to 0 exactly at the last step
    for before, after in itertools.pairwise(weights):
        assert not torch.equal(before, after)  # every stretch between evaluations trained
