"""Supervised fine-tuning of the writer (a causal LM) with LoRA; the loss only sees the response.

    python -m training.train_writer --data training/data/replies_a.jsonl training/data/replies_b.jsonl \
        training/data/copy.jsonl --out runs/writer

Each example ({"task": "reply" | "copy" | "strategy", ...}, the format /export writes) becomes
the exact prompt the Writer sends when an adapter is loaded (nlp/prompts.py with shots=False),
followed by the response and the end marker. Prompt tokens get label -100, so the model learns
to answer, not to repeat the question. Dev loss (same masking) picks the checkpoint and stops
early. The output is a peft adapter with the tokenizer beside it, loadable through
`XIAOER_NLP__WRITER__ADAPTER` (or shipped in nlp/adapters/writer).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from peft import LoraConfig, get_peft_model
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from nlp import prompts
from nlp.aspects import detect_aspects
from nlp.checks import detect_language
from nlp.types import Label
from training.data import example_key, facts_from_dict, profile_from_example
from training.loop import add_config_args, config_overrides, fit, linear_schedule, total_steps

log = logging.getLogger(__name__)
IGNORE = -100  # label of tokens the loss must not see


@dataclass
class WriterTrainConfig:
    base: Path  # causal LM directory (the bundled Gemma after `xiaoer models prefetch`)
    out: Path
    epochs: int = 2
    batch_size: int = 4
    grad_accum: int = 8  # effective batch 32
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    max_length: int = 384  # prompt + response tokens; longer examples are skipped, not cut
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    eval_every: int = 50  # optimizer steps
    patience: int = 3
    seed: int = 42
    mixed_precision: str = "auto"  # bf16 on CUDA devices that support it, else fp32
    resume: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def render(example: dict[str, Any]) -> tuple[str, str]:
    """(prompt, response) for one example, with the prompt the Writer itself would send."""
    task = example["task"]
    if task == "reply":
        profile = profile_from_example(example)
        review = str(example["review"])
        label: Label = example["label"]
        prompt = prompts.reply_few_shot(
            review, label, detect_aspects(review), profile, profile.tone, detect_language(review), shots=False
        )
    elif task == "copy":
        facts = facts_from_dict(example["facts"])
        prompt = prompts.copy_few_shot(
            facts,
            example.get("platform", "generic"),
            example.get("length", "medium"),
            example.get("tone", "warm"),
            shots=False,
        )
    elif task == "strategy":
        prompt = prompts.strategy_few_shot(str(example["summary"]), shots=False)
    else:
        raise ValueError(f"unknown task {task!r}")
    return prompt, str(example["response"]).strip()


def encode(
    tokenizer: PreTrainedTokenizerBase, prompt: str, response: str, max_length: int
) -> dict[str, list[int]] | None:
    """input_ids and labels with the prompt masked; None when the example does not fit."""
    prompt_ids: list[int] = tokenizer(prompt)["input_ids"]  # with BOS
    answer_ids: list[int] = tokenizer(response + "\n" + prompts.END, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids + [tokenizer.eos_token_id]
    if len(ids) > max_length:
        return None
    return {"input_ids": ids, "labels": [IGNORE] * len(prompt_ids) + answer_ids + [tokenizer.eos_token_id]}


def get_dataloaders(
    cfg: WriterTrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    train: list[dict[str, Any]],
    dev: list[dict[str, Any]],
) -> tuple[DataLoader[dict[str, torch.Tensor]], DataLoader[dict[str, torch.Tensor]], int]:
    def build(examples: list[dict[str, Any]]) -> tuple[list[dict[str, list[int]]], int]:
        rows = [encode(tokenizer, *render(e), cfg.max_length) for e in examples]
        kept = [r for r in rows if r is not None]
        return kept, len(rows) - len(kept)

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def collate(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)  # right padding, masked out of the loss
        ids = torch.full((len(batch), width), pad)
        labels = torch.full((len(batch), width), IGNORE)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    train_rows, skipped = build(train)
    dev_rows, dev_skipped = build(dev)
    train_dl: DataLoader[dict[str, torch.Tensor]] = DataLoader(
        train_rows,  # type: ignore[arg-type]  # a list is a map-style dataset
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=collate,
    )
    dev_dl: DataLoader[dict[str, torch.Tensor]] = DataLoader(
        dev_rows,  # type: ignore[arg-type]
        batch_size=cfg.batch_size,
        shuffle=False,
        collate_fn=collate,
    )
    return train_dl, dev_dl, skipped + dev_skipped


class ResponseLoss(torch.nn.Module):
    """Wraps a causal LM so that forward returns the mean loss over response tokens, projecting
    only those positions through the LM head. Gemma's head maps to a 262k vocabulary and costs
    as much as the whole body per token; skipping the prompt positions roughly halves a step.
    Accelerate prepares this wrapper (so distributed runs sync gradients as usual)."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        inner: Any = self.lm
        lm: Any = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
        hidden = lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        targets = labels[:, 1:]  # position t predicts token t + 1
        keep = targets != IGNORE
        logits = lm.get_output_embeddings()(hidden[:, :-1][keep])
        cap = getattr(lm.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def dev_loss(
    accelerator: Accelerator, model: torch.nn.Module, dl: DataLoader[dict[str, torch.Tensor]]
) -> float:
    model.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for batch in dl:
            loss = model(**batch)
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            loss, count = accelerator.gather_for_metrics((loss.detach() * n, torch.tensor(n)))
            total += float(loss.sum())
            tokens += int(count.sum())
    model.train()
    return total / max(tokens, 1)


def train(
    cfg: WriterTrainConfig, train_set: list[dict[str, Any]], dev_set: list[dict[str, Any]]
) -> dict[str, object]:
    set_seed(cfg.seed)
    precision = cfg.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=precision)
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    with accelerator.main_process_first():
        train_dl, dev_dl, skipped = get_dataloaders(cfg, tokenizer, train_set, dev_set)
    lm = AutoModelForCausalLM.from_pretrained(cfg.base, dtype=torch.float32)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    model: torch.nn.Module = ResponseLoss(get_peft_model(lm, lora))
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    # step counts are computed after prepare: the dataloader may be sharded across processes
    model, optimizer, train_dl, dev_dl = accelerator.prepare(model, optimizer, train_dl, dev_dl)
    total = total_steps(len(train_dl), cfg.grad_accum, cfg.epochs)
    scheduler = linear_schedule(optimizer, total, int(total * cfg.warmup_ratio))

    state, seconds = fit(
        accelerator,
        model,
        optimizer,
        scheduler,
        train_dl,
        loss_fn=lambda m, batch: m(**batch),
        evaluate=lambda: {"loss": dev_loss(accelerator, model, dev_dl)},
        score=lambda metrics: -metrics["loss"],  # lower dev loss is better
        save=lambda: save(accelerator, model, tokenizer, cfg.out),
        ckpt=cfg.out / "checkpoint",
        epochs=cfg.epochs,
        grad_accum=cfg.grad_accum,
        eval_every=cfg.eval_every,
        patience=cfg.patience,
        resume=cfg.resume,
        eval_at_start=True,
        desc="train writer",
    )
    summary: dict[str, object] = {
        "best_dev_loss": -state.best,
        "steps": state.step,
        "seconds": round(seconds, 1),
        "train_examples": len(train_set),
        "dev_examples": len(dev_set),
        "dev_ids": [example_key(e) for e in dev_set],  # the held-out set `xiaoer eval writer` uses
        "skipped_too_long": skipped,
        "device": str(accelerator.device),
        "mixed_precision": precision,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "history": state.history,
    }
    if accelerator.is_main_process:
        cfg.out.mkdir(parents=True, exist_ok=True)
        (cfg.out / "training_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def save(
    accelerator: Accelerator, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, out: Path
) -> None:
    """LoRA weights and the tokenizer (the writer's prompt format depends on it)."""
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    out.mkdir(parents=True, exist_ok=True)
    accelerator.unwrap_model(model).lm.save_pretrained(out, save_function=accelerator.save)
    tokenizer.save_pretrained(out)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from nlp.bundled import prepare_gemma
    from nlp.config import NLPConfig
    from training.data import DataError, read_examples

    ap = argparse.ArgumentParser(
        prog="xiaoer train writer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--data", nargs="+", type=Path, required=True, help="JSONL writer examples")
    ap.add_argument("--dev-fraction", type=float, default=0.1)
    ap.add_argument("--max-examples", type=int, default=0, help="random subset for short CPU runs (0: all)")
    ap.add_argument(
        "--base", type=Path, default=None, help="causal LM directory (default: the bundled Gemma)"
    )
    ap.add_argument("--out", type=Path, required=True)
    add_config_args(ap, WriterTrainConfig)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        examples = [e for path in args.data for e in read_examples(path)]
    except (DataError, OSError) as exc:
        print(f"cannot read training data: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else 42
    random.Random(seed).shuffle(examples)
    if args.max_examples:
        examples = examples[: args.max_examples]
    n_dev = max(1, int(len(examples) * args.dev_fraction))
    dev, train_set = examples[:n_dev], examples[n_dev:]
    base = args.base or prepare_gemma(NLPConfig().cache_dir).path
    overrides = config_overrides(args, WriterTrainConfig)
    cfg = WriterTrainConfig(base=base, out=args.out, **overrides)
    cfg.extra = {
        "data": [str(p) for p in args.data],
        "dev_fraction": args.dev_fraction,
        "max_examples": args.max_examples,
    }
    print(f"train {len(train_set)} examples, dev {len(dev)}")
    summary = train(cfg, train_set, dev)
    print(
        f"best dev loss {summary['best_dev_loss']:.4f} after {summary['steps']} steps; adapter in {cfg.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
