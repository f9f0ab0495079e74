"""Benchmark the bundled models on this machine and print the figures.

  python bench/bench_bundled.py [--fresh] [--data ../shared/data/reviews] [--limit N]

--fresh builds the bundled models in a new temporary cache (first-load time); otherwise the
configured cache is used. Reports: build and cached load times, peak memory, classify
throughput at batch 1 and 32 (with the shipped adapters), generation ms/token, seconds per sampled
reply with 0 (the default: the composer), 1 and 3 model candidates, and accuracy /
macro-F1 of the configured classifier on the test splits (a binary set scores a neutral
prediction as wrong; "pos-vs-neg" compares the two polar probabilities only).
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

import torch

from nlp.bundled import perplexity, prepare_e5, prepare_gemma
from nlp.config import NLPConfig, WriterConfig
from nlp.models import load_classifier, load_writer
from nlp.types import LABELS, ShopProfile
from nlp.writer import ReplyRequest

SPLITS = ("online_shopping_10_cats", "waimai_10k", "chnsenticorp_htl")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def macro_f1(y: list[str], p: list[str], labels: tuple[str, ...]) -> float:
    f1s = []
    for lab in labels:
        tp = sum(a == lab and b == lab for a, b in zip(y, p, strict=True))
        fp = sum(a != lab and b == lab for a, b in zip(y, p, strict=True))
        fn = sum(a == lab and b != lab for a, b in zip(y, p, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--limit", type=int, default=0, help="rows per test split (0: all)")
    ap.add_argument("--gen-tokens", type=int, default=64)
    args = ap.parse_args()

    cache = Path(tempfile.mkdtemp(prefix="xiaoer-bench-")) if args.fresh else NLPConfig().cache_dir
    cfg = NLPConfig(cache_dir=cache, writer=WriterConfig(temperature=0.0, max_new_tokens=args.gen_tokens))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cache {cache}")
    for report in (prepare_gemma(cache), prepare_e5(cache)):
        print(
            f"{report.name}: {'built' if report.built else 'cached'} in {report.seconds:.1f} s, "
            f"{report.bytes / 2**20:.0f} MiB on disk"
        )

    writer = load_writer(cfg)
    print(
        f"writer cached load {writer.loaded.seconds:.1f} s, dtype {writer.loaded.dtype}, "
        f"perplexity {perplexity(writer.loaded.model, writer.loaded.tokenizer):.1f}"
    )
    clf = load_classifier(cfg)
    print(f"classifier cached load {clf.loaded.seconds:.1f} s, dtype {clf.loaded.dtype}, mode {clf.mode}")

    rows = list(csv.DictReader((args.data / f"{SPLITS[0]}_dev.csv").open(encoding="utf-8")))
    texts = [r["text"] for r in rows[:640]]
    clf.classify(texts[:32])  # warm-up
    start = time.perf_counter()
    for t in texts[:64]:
        clf.classify([t])
    b1 = 64 / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, len(texts), 32):
        clf.classify(texts[i : i + 32])
    b32 = len(texts) / (time.perf_counter() - start)
    mean_chars = sum(map(len, texts)) / len(texts)
    print(
        f"classify: batch 1 {b1:.1f} reviews/s, batch 32 {b32:.1f} reviews/s "
        f"(online_shopping dev, mean {mean_chars:.0f} chars)"
    )

    sentiment = clf.classify(["快递太慢了，等了一个星期，盒子也压坏了"])[0]
    req = ReplyRequest("快递太慢了，等了一个星期，盒子也压坏了", sentiment, ShopProfile(name="小林家居"))
    d = writer.reply(req)[0]  # warm-up, and a sample
    print(
        f"sample reply ({d.new_tokens} tokens, {d.seconds:.1f} s, prompt {d.prompt_tokens} tokens): {d.text}"
    )
    # Decode speed without the prompt's prefill: time N forced tokens minus time for 1.
    model, tok = writer.loaded.model, writer.loaded.tokenizer
    ids = tok("顾客评价：快递太慢了。客服回复：", return_tensors="pt")["input_ids"]
    timings = {}
    for n in (1, args.gen_tokens):
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(input_ids=ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        timings[n] = time.perf_counter() - start
    ms = 1000 * (timings[args.gen_tokens] - timings[1]) / (args.gen_tokens - 1)
    print(
        f"generation: {ms:.0f} ms/token greedy decode ({writer.loaded.dtype}), "
        f"prefill of a {d.prompt_tokens}-token prompt {d.seconds - d.new_tokens * ms / 1000:.1f} s"
    )
    # A merchant's reply as the product makes it: the composer (the default, 0 model candidates),
    # then with k model candidates judged beside it.
    reviews = [r["text"] for r in rows[:200] if 10 <= len(r["text"]) <= 80][:6]
    sentiments = clf.classify(reviews)
    for k in (0, 1, 3):
        writer.cfg = WriterConfig(reply_candidates=k)
        start = time.perf_counter()
        for review, s in zip(reviews, sentiments, strict=True):
            writer.reply(ReplyRequest(review, s, ShopProfile()))
        per = (time.perf_counter() - start) / len(reviews)
        print(f"reply, {k} model candidate(s): {per:.2f} s per reply (mean of {len(reviews)})")
    print(f"peak memory (RSS) {peak_mib():.0f} MiB")

    for name in SPLITS:
        test = list(csv.DictReader((args.data / f"{name}_test.csv").open(encoding="utf-8")))
        if args.limit:
            test = test[: args.limit]
        y = [r["label"] for r in test]
        start = time.perf_counter()
        probs = clf.probabilities([r["text"] for r in test])
        rate = len(test) / (time.perf_counter() - start)
        pred = [LABELS[i] for i in probs.argmax(-1).tolist()]
        polar = ["positive" if p[2] > p[0] else "negative" for p in probs.tolist()]
        acc = sum(a == b for a, b in zip(y, pred, strict=True)) / len(y)
        acc2 = sum(a == b for a, b in zip(y, polar, strict=True)) / len(y)
        neutral = pred.count("neutral") / len(pred)
        f1 = macro_f1(y, pred, ("negative", "positive"))
        print(
            f"{name}_test n={len(y)}: 3-way acc {acc:.3f} macro-F1 {f1:.3f}"
            f" (neutral predicted {neutral:.1%}); pos-vs-neg acc {acc2:.3f} macro-F1 "
            f"{macro_f1(y, polar, ('negative', 'positive')):.3f}; {rate:.0f} reviews/s"
        )


if __name__ == "__main__":
    main()
