"""The `xiaoer` command line.

xiaoer chat                       the offline console on the bundled models
xiaoer analyze FILE -o OUT.csv    classify a CSV / XLSX / TXT of reviews
xiaoer models verify|prefetch     build the bundled models now and report sizes and timings
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import time
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("xiaoer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="xiaoer", description="店小二 xiaoer: reviews, replies and copy for shops"
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="settings file (default .env)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("chat", help="offline console: paste reviews, /copy, /settings")
    an = sub.add_parser("analyze", help="classify a review export into a CSV")
    an.add_argument("file", type=Path)
    an.add_argument("-o", "--output", type=Path, required=True)
    mo = sub.add_parser("models", help="bundled model files")
    mo.add_argument("action", choices=["verify", "prefetch"])
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    _setup_logging(settings.log_level)
    if args.command == "chat":
        return asyncio.run(_chat(settings))
    if args.command == "analyze":
        return _analyze(settings, args.file, args.output)
    return _models(settings, args.action)


def _setup_logging(level: str) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level.upper())
    for noisy in ("httpx", "httpcore", "transformers", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _chat(settings: Settings) -> int:
    from bot.console import Console, stdin_lines
    from bot.services import Services
    from bot.store import Store
    from nlp.engine import Engine
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier, load_writer

    nlp = settings.nlp
    engine = Engine(nlp.engine, classifier=lambda: load_classifier(nlp), writer=lambda: load_writer(nlp))
    async with Store(settings.storage) as store, engine:
        print("⏳ 正在加载模型（首次运行需要组装和转换，约 1-2 分钟）…", flush=True)
        start = time.perf_counter()
        try:
            await engine.load()
        except ModelLoadError as exc:
            print(f"❌ 模型加载失败：{exc}\n   运行 `xiaoer models verify` 查看详情。", file=sys.stderr)
            return 1
        print(f"✅ 模型就绪（{time.perf_counter() - start:.0f} 秒）", flush=True)
        await Console(Services(store, engine, settings.limits), sys.stdout).run(stdin_lines())
    return 0


def _analyze(settings: Settings, path: Path, output: Path) -> int:
    from tqdm import tqdm

    from bot.parsing import ParseError, read_table
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier
    from nlp.types import LABELS

    limits = settings.limits
    try:
        table = read_table(path, limits.max_file_bytes, limits.max_file_rows)
    except (ParseError, OSError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 2
    try:
        classifier = load_classifier(settings.nlp)
    except ModelLoadError as exc:
        print(f"model load failed: {exc}", file=sys.stderr)
        return 1
    texts = table.texts()
    todo = [i for i, t in enumerate(texts) if t]
    results: dict[int, list[str]] = {}
    step = max(settings.nlp.classifier.batch_size * 4, 64)
    with tqdm(total=len(todo), unit="review", desc="classifying", file=sys.stderr) as bar:
        for start in range(0, len(todo), step):
            idx = todo[start : start + step]
            for i, s in zip(
                idx, classifier.classify([texts[i][: limits.max_review_chars] for i in idx]), strict=True
            ):
                results[i] = [s.label, *(f"{s.probs[lab]:.4f}" for lab in LABELS), ";".join(s.aspects)]
            bar.update(len(idx))
    extra = ["label", *(f"p_{lab}" for lab in LABELS), "aspects"]
    columns = [c if c not in extra else f"input_{c}" for c in table.columns]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    with tmp.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens it as UTF-8
        writer = csv.writer(f)
        writer.writerow(columns + extra)
        for i, row in enumerate(table.rows):
            writer.writerow(row + results.get(i, ["", "", "", "", ""]))
    tmp.replace(output)
    skipped = len(texts) - len(todo)
    print(
        f"wrote {len(table.rows)} rows to {output}"
        + (f" ({skipped} empty reviews left unlabelled)" if skipped else "")
    )
    return 0


def _models(settings: Settings, action: str) -> int:
    from nlp.bundled import perplexity, prepare_e5, prepare_gemma
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier, load_writer

    cache = settings.nlp.cache_dir
    try:
        for report in (prepare_gemma(cache), prepare_e5(cache)):
            state = "built" if report.built else "cached"
            print(
                f"{report.name:<10} {state:<6} {report.bytes / 2**20:8.1f} MiB  "
                f"{report.seconds:6.1f} s  {report.path}"
            )
        if action == "prefetch":
            return 0
        writer = load_writer(settings.nlp)
        ppl = perplexity(writer.loaded.model, writer.loaded.tokenizer)
        print(
            f"writer     loaded in {writer.loaded.seconds:.1f} s, dtype {writer.loaded.dtype}, "
            f"perplexity of the check sentence {ppl:.1f} (healthy < 200)"
        )
        classifier = load_classifier(settings.nlp)
        probe = classifier.classify(["质量很好，物流很快，非常满意", "太差了，用了一天就坏了，退货"])
        print(
            f"classifier loaded in {classifier.loaded.seconds:.1f} s, mode {classifier.mode}, "
            f"probe: {[s.label for s in probe]} (expect ['positive', 'negative'])"
        )
        ok = ppl < 200 and [s.label for s in probe] == ["positive", "negative"]
    except ModelLoadError as exc:
        print(f"model check failed: {exc}", file=sys.stderr)
        return 1
    print("OK" if ok else "FAILED: the models load but answer wrongly")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
