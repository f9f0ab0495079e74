"""The `xiaoer` command line.

xiaoer chat                       the offline console on the bundled models
xiaoer run                        the Telegram bot, long polling (XIAOER_TELEGRAM__TOKEN)
xiaoer webhook                    the Telegram bot behind XIAOER_TELEGRAM__WEBHOOK_URL
xiaoer analyze FILE -o OUT.csv [--report R.md]   classify a CSV / XLSX / TXT of reviews (and report)
xiaoer models verify|prefetch     build the bundled models now and report sizes and timings
xiaoer serve-writer [--port 8765] the bundled writer on llama.cpp's OpenAI-compatible server (fast on CPU)
xiaoer train classifier|lexical|calibrate|tagger|writer ...   fine-tune on your data (--help of each)
xiaoer eval classifier|aspects|writer ...    scores, TF-IDF side by side, aspect polarity, the writer's checks
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings
from nlp.types import Language

log = logging.getLogger("xiaoer")
TRAINERS = {
    "classifier": "training.train_classifier",
    "lexical": "training.train_lexical",
    "calibrate": "training.calibrate",
    "tagger": "training.train_tagger",
    "writer": "training.train_writer",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="xiaoer", description="店小二 xiaoer: reviews, replies and copy for shops"
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="settings file (default .env)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("chat", help="offline console: paste reviews, /copy, /settings")
    sub.add_parser("run", help="the Telegram bot, long polling")
    sub.add_parser("webhook", help="the Telegram bot, updates posted to XIAOER_TELEGRAM__WEBHOOK_URL")
    an = sub.add_parser("analyze", help="classify a review export into a CSV")
    an.add_argument("file", type=Path)
    an.add_argument("-o", "--output", type=Path, required=True)
    an.add_argument(
        "--report", type=Path, help="also write the triage report the bot sends (Markdown) and a chart (.png)"
    )
    an.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the report (default zh)")
    mo = sub.add_parser("models", help="bundled model files")
    mo.add_argument("action", choices=["verify", "prefetch"])
    sw = sub.add_parser(
        "serve-writer", help="serve the bundled writer with llama.cpp (pip install 'xiaoer[serve]')"
    )
    sw.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    sw.add_argument("--port", type=int, default=8765)
    sw.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads (default: all)")
    sw.add_argument(
        "--adapter", default="bundled", help="a writer adapter directory with adapter.gguf, or 'none'"
    )
    tr = sub.add_parser(
        "train",
        help="fine-tune the classifier, its lexical model or calibration, the clause tagger, or the writer",
    )
    tr.add_argument("what", choices=list(TRAINERS))
    tr.add_argument("options", nargs=argparse.REMAINDER, help="see xiaoer train WHAT --help")
    ev = sub.add_parser("eval", help="evaluate the classifier, its aspect polarity, or the writer")
    ev.add_argument("what", choices=["classifier", "aspects", "writer"])
    ev.add_argument("options", nargs=argparse.REMAINDER, help="see xiaoer eval WHAT --help")
    args = parser.parse_args(argv)
    if args.command == "train":  # the training scripts read their own flags and no settings
        import importlib

        return int(importlib.import_module(TRAINERS[args.what]).main(args.options))

    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    _setup_logging(settings.log_level)
    if args.command == "chat":
        return asyncio.run(_chat(settings))
    if args.command in ("run", "webhook"):
        return _bot(settings, webhook=args.command == "webhook")
    if args.command == "analyze":
        return _analyze(settings, args.file, args.output, args.report, args.lang)
    if args.command == "serve-writer":
        return _serve_writer(settings, args.host, args.port, args.threads, args.adapter)
    if args.command == "eval":
        from training.evaluate import main as evaluate

        return evaluate([args.what, *args.options], settings.nlp)
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


def _bot(settings: Settings, webhook: bool) -> int:
    tg = settings.telegram
    if tg.token is None:
        print("XIAOER_TELEGRAM__TOKEN is not set: get a token from @BotFather", file=sys.stderr)
        return 2
    if webhook and not tg.webhook_url:
        print("XIAOER_TELEGRAM__WEBHOOK_URL is not set (the public https URL of this bot)", file=sys.stderr)
        return 2
    from telegram.error import InvalidToken, NetworkError

    from bot.app import run_polling, run_webhook  # imports torch: only once settings are sound
    from nlp.errors import ModelLoadError

    try:
        (run_webhook if webhook else run_polling)(settings)
    except InvalidToken:
        print("Telegram refused the token: check XIAOER_TELEGRAM__TOKEN", file=sys.stderr)
        return 1
    except NetworkError as exc:
        print(f"cannot reach the Bot API at {tg.base_url}: {exc}", file=sys.stderr)
        return 1
    except ModelLoadError as exc:
        print(f"model load failed: {exc}\n   run `xiaoer models verify` for details", file=sys.stderr)
        return 1
    return 0


def _analyze(settings: Settings, path: Path, output: Path, report: Path | None, lang: Language) -> int:
    from tqdm import tqdm

    from bot.render import to_markdown, upload_digest, upload_report
    from bot.report import chart_png, labelled_csv
    from bot.tables import ParseError, read_table
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier
    from nlp.types import Sentiment

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
    results: list[Sentiment | None] = [None] * len(texts)
    step = max(settings.nlp.classifier.batch_size * 4, 64)
    with tqdm(total=len(todo), unit="review", desc="classifying", file=sys.stderr) as bar:
        for start in range(0, len(todo), step):
            idx = todo[start : start + step]
            for i, s in zip(
                idx, classifier.classify([texts[i][: limits.max_review_chars] for i in idx]), strict=True
            ):
                results[i] = s
            bar.update(len(idx))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(labelled_csv(table, results))
    tmp.replace(output)
    skipped = len(texts) - len(todo)
    print(
        f"wrote {len(table.rows)} rows to {output}"
        + (f" ({skipped} empty reviews left unlabelled)" if skipped else "")
    )
    if report is not None:
        chart = report.with_suffix(".png")
        summary = upload_digest(texts, results)
        body = to_markdown(upload_report(lang, path.name, texts, results, summary))
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(f"{body}\n\n![chart]({chart.name})\n", encoding="utf-8")
        chart.write_bytes(chart_png(summary, lang))
        print(f"wrote the report to {report} and its chart to {chart}")
    return 0


def _serve_writer(settings: Settings, host: str, port: int, threads: int, adapter: str) -> int:
    """Replace this process with llama.cpp's server on the bundled GGUF and the writer's adapter."""
    import importlib.util

    from nlp.errors import ModelLoadError
    from nlp.models import ADAPTERS
    from nlp.serving import ServerPlan, adapter_gguf, served_gguf

    if importlib.util.find_spec("llama_cpp") is None:
        print(
            "serve-writer needs llama-cpp-python's server: pip install 'xiaoer[serve]' "
            "(it compiles llama.cpp, ~17 minutes on 2 cores; README, 'A faster writer')",
            file=sys.stderr,
        )
        return 2
    try:
        model = served_gguf(settings.nlp.cache_dir)
        directory = ADAPTERS / "writer" if adapter == "bundled" else Path(adapter).expanduser()
        lora = None if adapter.strip().lower() == "none" else adapter_gguf(directory)
    except ModelLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    plan = ServerPlan(model=model, lora=lora, host=host, port=port, threads=max(1, threads))
    env = dict(os.environ)
    key = settings.nlp.writer.api_key
    if key is not None:  # the server reads API_KEY; on the command line it would show in `ps`
        env["API_KEY"] = key.get_secret_value()
    print(
        f"serving {model.name} + {lora.name if lora else 'no adapter'} as "
        f"{plan.alias!r} at {plan.base_url}\n"
        f"point the bot at it: XIAOER_NLP__WRITER__BACKEND=openai "
        f"XIAOER_NLP__WRITER__BASE_URL={plan.base_url}"
        + ("" if lora else " XIAOER_NLP__WRITER__ADAPTER=none"),
        flush=True,
    )
    os.execve(plan.argv()[0], plan.argv(), env)


def _models(settings: Settings, action: str) -> int:
    from nlp.bundled import perplexity, prepare_e5, prepare_gemma
    from nlp.errors import ModelLoadError, ModelUnavailable
    from nlp.models import load_classifier, load_writer
    from nlp.remote import RemoteModel

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
        if isinstance(writer.loaded, RemoteModel):
            served = writer.loaded.models()  # raises ModelUnavailable when the server cannot be used
            ppl = 0.0 if writer.loaded.model_id in served else float("inf")
            print(f"writer     served at {settings.nlp.writer.base_url}: {', '.join(served) or '-'}")
            if ppl:
                print(f"the server does not serve {writer.loaded.model_id!r} (XIAOER_NLP__WRITER__MODEL)")
        else:
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
    except (ModelLoadError, ModelUnavailable) as exc:
        print(f"model check failed: {exc}", file=sys.stderr)
        return 1
    print("OK" if ok else "FAILED: the models load but answer wrongly")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
