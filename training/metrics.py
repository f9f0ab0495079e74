"""Classification metrics without extra dependencies: accuracy, per-class and macro F1, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    f1: dict[str, float]
    confusion: list[list[int]]  # rows: gold, columns: predicted, in `labels` order
    n: int

    def render(self) -> str:
        width = max(len(x) for x in self.labels) + 2
        lines = [f"n={self.n} accuracy={self.accuracy:.4f} macro-F1={self.macro_f1:.4f}"]
        lines.append("per-class F1: " + ", ".join(f"{k} {v:.4f}" for k, v in self.f1.items()))
        lines.append("confusion (rows gold, columns predicted):")
        lines.append(" " * width + "".join(f"{lab:>{width}}" for lab in self.labels))
        for lab, row in zip(self.labels, self.confusion, strict=True):
            lines.append(f"{lab:<{width}}" + "".join(f"{c:>{width}}" for c in row))
        return "\n".join(lines)


def classification_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> Report:
    """Macro-F1 averages over the labels present in `gold` (a binary set is scored on its 2 labels;
    predictions of a third label count as errors for the true class)."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    index = {lab: i for i, lab in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        confusion[index[g]][index[p]] += 1
    f1 = {}
    for lab in labels:
        i = index[lab]
        tp = confusion[i][i]
        fp = sum(confusion[j][i] for j in range(len(labels))) - tp
        fn = sum(confusion[i]) - tp
        f1[lab] = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    present = [lab for lab in labels if any(confusion[index[lab]])]
    n = len(gold)
    accuracy = sum(confusion[i][i] for i in range(len(labels))) / n if n else 0.0
    macro = sum(f1[lab] for lab in present) / len(present) if present else 0.0
    return Report(tuple(labels), accuracy, macro, f1, confusion, n)
