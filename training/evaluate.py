"""`xiaoer eval classifier|writer`: the numbers a merchant (and the issue's targets) ask for.

Classifier, on any labelled CSV/JSONL (and on the held-out part of our 3-class references):
accuracy, macro-F1, per-class F1 and the confusion matrix of the configured classifier, side by
side with the reference TF-IDF baseline (character 1-3 grams + logistic regression, C chosen
from {1, 4, 16, 64} by dev macro-F1, as ../shared/data/baseline_tfidf.py does) fitted on
--baseline-train. On a binary test set a "neutral" answer counts as wrong (it is not the gold
label); the report also gives the neutral rate and the score when only positive vs negative
is compared.

Writer, on the held-out examples its adapter never saw (the dev ids written into the
adapter's training_summary.json) plus, to reach --replies, real reviews from --reviews files,
each answered for a shop of its own category (the file's `category` column) with the default
after-sales policy: every draft goes through the product's own checks (language,
addresses the review's aspects, promises within the shop's policy, no invented facts, no
forbidden claims, length, repeated sentences, unsafe content); distinct-2 across sampled
variants; and the masked response loss on the held-out examples.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp.calibration import expected_calibration_error
from nlp.config import NLPConfig
from nlp.types import LABELS, Label
from training.data import (
    DataError,
    Example,
    column_by_text,
    example_key,
    facts_from_dict,
    join_refs,
    profile_from_example,
    read_examples,
    read_label_refs,
    read_labelled,
)
from training.metrics import Report, classification_report

CS = (1.0, 4.0, 16.0, 64.0)
MAX_REPLY_UNITS = 150  # the reply prompt asks for <= 120 characters; 25% slack
MIN_REPLY_UNITS = 6


# -- classifier ---------------------------------------------------------------------------------


@dataclass
class SetResult:
    name: str
    n: int
    model: Report
    polar: Report | None  # positive vs negative only (binary sets)
    neutral_rate: float
    ece: float  # expected calibration error of the model's top label (15 bins)
    baseline: Report | None = None


class TfidfBaseline:
    """The reference baseline, refitted on the same training data as the model it is compared to."""

    def __init__(self, train: Sequence[Example], dev: Sequence[Example]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        x_train = self.vec.fit_transform([e.text for e in train])
        x_dev = self.vec.transform([e.text for e in dev])
        best: tuple[float, float, Any] | None = None
        for c in CS:
            model = LogisticRegression(C=c, max_iter=3000).fit(x_train, [e.label for e in train])
            pred = model.predict(x_dev)
            f1 = classification_report([e.label for e in dev], list(pred), LABELS).macro_f1
            if best is None or f1 > best[0]:
                best = (f1, c, model)
        assert best is not None
        self.c, self.model = best[1], best[2]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(p) for p in self.model.predict(self.vec.transform(list(texts)))]


def evaluate_set(
    name: str, examples: Sequence[Example], probs: Any, baseline: TfidfBaseline | None
) -> SetResult:
    gold = [e.label for e in examples]
    pred = [LABELS[i] for i in probs.argmax(-1).tolist()]
    binary = "neutral" not in gold
    polar = None
    if binary:
        pos, neg = LABELS.index("positive"), LABELS.index("negative")
        polar_pred = ["positive" if p[pos] >= p[neg] else "negative" for p in probs.tolist()]
        polar = classification_report(gold, polar_pred, LABELS)
    base = (
        classification_report(gold, baseline.predict([e.text for e in examples]), LABELS)
        if baseline
        else None
    )
    return SetResult(
        name,
        len(examples),
        classification_report(gold, pred, LABELS),
        polar,
        pred.count("neutral") / max(1, len(pred)),
        expected_calibration_error(probs, gold),
        base,
    )


def classifier_report(results: Sequence[SetResult], header: str) -> str:
    lines = [header, ""]
    lines.append(
        "| set | n | model acc | model macro-F1 | neutral answers | pos-vs-neg acc / F1 | ECE "
        "| TF-IDF acc | TF-IDF macro-F1 |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        polar = f"{r.polar.accuracy:.4f} / {r.polar.macro_f1:.4f}" if r.polar else "-"
        b = r.baseline
        tfidf = f"{b.accuracy:.4f} | {b.macro_f1:.4f}" if b else "- | -"
        lines.append(
            f"| {r.name} | {r.n} | {r.model.accuracy:.4f} | {r.model.macro_f1:.4f} | {r.neutral_rate:.1%} "
            f"| {polar} | {r.ece:.4f} | {tfidf} |"
        )
    lines.append("")
    lines.append(
        "Scoring: the model's answer is the most probable of its three labels; on a binary set a "
        "neutral answer counts as wrong. Macro-F1 averages the labels present in the gold data. "
        "ECE: expected calibration error of the model's top label (15 equal-width bins)."
    )
    for r in results:
        lines += ["", f"### {r.name}", "", "model:", "```", r.model.render(), "```"]
        if r.baseline:
            lines += ["TF-IDF baseline:", "```", r.baseline.render(), "```"]
    return "\n".join(lines) + "\n"


def eval_classifier(argv: Sequence[str], nlp: NLPConfig) -> int:
    ap = argparse.ArgumentParser(prog="xiaoer eval classifier", description=__doc__)
    ap.add_argument("--test", nargs="*", type=Path, default=[], help="labelled CSV/JSONL files to score")
    ap.add_argument("--refs", nargs="*", type=Path, default=[], help="our 3-class references (held-out part)")
    ap.add_argument("--dev-fraction", type=float, default=0.33)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("--baseline-train", nargs="*", type=Path, default=[], help="fit TF-IDF on these")
    ap.add_argument("--baseline-dev", nargs="*", type=Path, default=[], help="default: _train -> _dev")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    ap.add_argument("-o", "--output", type=Path, help="write the report (Markdown) here too")
    args = ap.parse_args(list(argv))
    try:
        sets: list[tuple[str, list[Example]]] = []
        for path in args.test:
            sets.append((path.stem, read_labelled(path, args.text_column, args.label_column)[0]))
        if args.refs:
            from training.train_classifier import split_refs

            refs = [e for p in args.refs for e in read_label_refs(p, args.shared_dir)[0]]
            sets.append(("3-class dev (our labels)", split_refs(refs, args.dev_fraction, args.seed)[1]))
        if not sets:
            print("nothing to evaluate: give --test files and/or --refs", file=sys.stderr)
            return 2
        baseline = None
        if args.baseline_train:
            dev_paths = args.baseline_dev or [
                p.with_name(p.name.replace("_train", "_dev")) for p in args.baseline_train
            ]
            train = [
                e
                for p in args.baseline_train
                for e in read_labelled(p, args.text_column, args.label_column)[0]
            ]
            dev = [e for p in dev_paths for e in read_labelled(p, args.text_column, args.label_column)[0]]
    except (DataError, OSError) as exc:
        print(f"cannot read the data: {exc}", file=sys.stderr)
        return 2
    if args.baseline_train:
        try:
            start = time.perf_counter()
            baseline = TfidfBaseline(train, dev)
        except ImportError:
            print("the TF-IDF baseline needs scikit-learn: pip install 'xiaoer[eval]'", file=sys.stderr)
            return 2
        print(
            f"TF-IDF baseline fitted on {len(train)} rows, C={baseline.c:g} "
            f"({time.perf_counter() - start:.0f} s)"
        )

    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier

    try:
        classifier = load_classifier(nlp)
    except ModelLoadError as exc:
        print(f"model load failed: {exc}", file=sys.stderr)
        return 1
    results = []
    for name, examples in sets:
        start = time.perf_counter()
        probs = classifier.probabilities([e.text for e in examples])
        results.append(evaluate_set(name, examples, probs, baseline))
        print(f"{name}: {len(examples)} reviews in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    lexical = " + lexical model" if classifier.lexical is not None else ""
    header = (
        f"## Classifier: {classifier.loaded.model_id} adapter={classifier.loaded.adapter_id or '-'}"
        f"{lexical} (mode {classifier.mode}, labels {classifier.cfg.labels}, "
        f"T={classifier.calibration.temperature:.3f} / "
        f"binary {classifier.calibration.binary_temperature:.3f})"
        + (
            f"; TF-IDF trained on {', '.join(p.name for p in args.baseline_train)}, C={baseline.c:g}"
            if baseline
            else ""
        )
    )
    text = classifier_report(results, header)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


# -- aspect polarity ----------------------------------------------------------------------------

SIGNS = {"+": 1, "-": -1, "0": 0}


def parse_aspect_signs(value: str, where: str = "") -> dict[str, int]:
    """ "logistics:+;quality:-" -> {"logistics": 1, "quality": -1}; "" -> {}."""
    from nlp.types import ASPECTS

    out = {}
    for item in filter(None, (x.strip() for x in value.split(";"))):
        key, _, sign = item.partition(":")
        if key not in ASPECTS or sign not in SIGNS:
            raise DataError(f"{where}: {item!r} is not ASPECT:+|-|0 with an aspect of {', '.join(ASPECTS)}")
        out[key] = SIGNS[sign]
    return out


@dataclass
class AspectScores:
    reviews: int = 0
    gold: int = 0  # aspects the annotators named
    detected: int = 0  # aspects the classifier named
    both: int = 0  # named by both: their polarity is compared
    right: int = 0  # ... and the classifier's sign is the annotators'
    right_label_only: int = 0  # ... had each aspect simply taken the review's label
    polar: int = 0  # compared aspects the annotators called + or -
    polar_right: int = 0
    by_aspect: dict[str, list[int]] = field(default_factory=dict)  # aspect -> [compared, right]

    def add(self, gold: dict[str, int], ours: dict[str, int], label_sign: int) -> None:
        self.reviews += 1
        self.gold += len(gold)
        self.detected += len(ours)
        for aspect in gold.keys() & ours.keys():
            ok = ours[aspect] == gold[aspect]
            self.both += 1
            self.right += ok
            self.right_label_only += label_sign == gold[aspect]
            if gold[aspect]:
                self.polar += 1
                self.polar_right += ok
            counts = self.by_aspect.setdefault(aspect, [0, 0])
            counts[0] += 1
            counts[1] += ok

    def render(self, header: str) -> str:
        def rate(a: int, b: int) -> str:
            return f"{a / b:.3f} ({a}/{b})" if b else "-"

        lines = [
            header,
            "",
            f"{self.reviews} reviews; the annotators named {self.gold} aspects, "
            f"the classifier {self.detected}.",
            "",
            "| measure | value |",
            "|---|---|",
            f"| aspect detection precision | {rate(self.both, self.detected)} |",
            f"| aspect detection recall | {rate(self.both, self.gold)} |",
            f"| **polarity accuracy** (aspects both named) | {rate(self.right, self.both)} |",
            f"| ... had each aspect taken the review's label | {rate(self.right_label_only, self.both)} |",
            f"| ... on aspects the annotators called + or - | {rate(self.polar_right, self.polar)} |",
            "",
            "| aspect | compared | polarity accuracy |",
            "|---|---|---|",
        ]
        for aspect, (n, ok) in sorted(self.by_aspect.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"| {aspect} | {n} | {ok / n:.3f} |")
        return "\n".join(lines) + "\n"


def eval_aspects(argv: Sequence[str], nlp: NLPConfig) -> int:
    """Aspect polarity against references labelled per aspect (file,row,sha1,aspects)."""
    ap = argparse.ArgumentParser(prog="xiaoer eval aspects", description=eval_aspects.__doc__)
    ap.add_argument(
        "--refs", nargs="+", type=Path, required=True, help="e.g. training/data/aspect_polarity_test.csv"
    )
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared/data/reviews"))
    ap.add_argument("-o", "--output", type=Path, help="write the report (Markdown) here too")
    args = ap.parse_args(list(argv))
    try:
        rows = [
            (text, parse_aspect_signs(ref.get("aspects", ""), f"{path}:{ref.get('file')}:{ref.get('row')}"))
            for path in args.refs
            for text, ref in join_refs(path, args.shared_dir)
        ]
    except (DataError, OSError) as exc:
        print(f"cannot read the data: {exc}", file=sys.stderr)
        return 2
    from nlp.errors import ModelLoadError
    from nlp.models import load_classifier
    from nlp.types import LABEL_POLARITY

    try:
        classifier = load_classifier(nlp)
    except ModelLoadError as exc:
        print(f"model load failed: {exc}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    results = classifier.classify([text for text, _ in rows])
    seconds = time.perf_counter() - start
    scores = AspectScores()
    for (_, gold), s in zip(rows, results, strict=True):
        scores.add(gold, s.aspect_signs(), LABEL_POLARITY[s.label])
    tagger = (
        "clause tagger"
        if classifier.tagger is not None
        else "no tagger: each aspect takes the review's label"
    )
    text = scores.render(
        f"## Aspect polarity: {classifier.loaded.model_id} adapter={classifier.loaded.adapter_id or '-'}, "
        f"{tagger} ({len(rows)} reviews in {seconds:.1f} s)"
    )
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


# -- writer -------------------------------------------------------------------------------------


@dataclass
class DraftCheck:
    kind: str
    prompt: dict[str, Any]
    text: str
    problems: list[str] = field(default_factory=list)
    path: str = ""  # replies: "model" or "composer" (the draft the judge let through)
    first_ok: bool | None = None  # replies: whether the first model sample alone passed the judge
    judged_ok: bool | None = None  # replies: whether the shown draft passes the checks and the judge

    @property
    def passed(self) -> bool:
        return not self.problems


def reply_problems(text: str, review: str, profile: Any) -> list[str]:
    from nlp.checks import _length_units, addresses_aspects, check_reply

    problems = [f"{f.code}: {f.span or f.message}" for f in check_reply(text, review, profile)]
    if not addresses_aspects(text, review):
        problems.append("misses_aspects")
    units = _length_units(text)
    if not MIN_REPLY_UNITS <= units <= MAX_REPLY_UNITS:
        problems.append(f"length {units}")
    return problems


def distinct_2(texts: Sequence[str]) -> float:
    """Distinct character bigrams over all bigrams, pooled across the variants of one prompt."""
    grams = [t[i : i + 2] for t in texts for i in range(len(t) - 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def heldout_ids(nlp: NLPConfig, summary: Path | None) -> set[str]:
    from nlp.loading import resolve_adapter
    from nlp.models import ADAPTERS

    if summary is None:
        default = ADAPTERS / "writer" if nlp.writer.model == "bundled" else None
        adapter = resolve_adapter(nlp.writer.adapter, default)
        if adapter is None:
            raise DataError("no writer adapter: give --summary (training_summary.json with dev_ids)")
        summary = adapter / "training_summary.json"
    data = json.loads(summary.read_text())
    ids = data.get("dev_ids")
    if not ids:
        raise DataError(f"{summary} lists no dev_ids")
    return {str(i) for i in ids}


def eval_writer(argv: Sequence[str], nlp: NLPConfig) -> int:
    ap = argparse.ArgumentParser(prog="xiaoer eval writer", description=__doc__)
    ap.add_argument("--data", nargs="+", type=Path, required=True, help="the writer's JSONL examples")
    ap.add_argument("--summary", type=Path, help="training_summary.json naming the held-out ids")
    ap.add_argument(
        "--reviews", nargs="*", type=Path, default=[], help="real labelled reviews to reach --replies"
    )
    ap.add_argument("--replies", type=int, default=200)
    ap.add_argument("--copies", type=int, default=40)
    ap.add_argument("--strategies", type=int, default=10)
    ap.add_argument("--variants", type=int, default=3, help="drafts per prompt for distinct-2")
    ap.add_argument("--variant-prompts", type=int, default=20)
    ap.add_argument("--show", type=int, default=10, help="random replies to print (and half as many copies)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--output", type=Path, help="write the report (Markdown) and drafts (JSONL) here")
    args = ap.parse_args(list(argv))
    rng = random.Random(args.seed)
    try:
        ids = heldout_ids(nlp, args.summary)
        examples = [e for p in args.data for e in read_examples(p) if example_key(e) in ids]
        extra: list[Example] = []
        category: dict[str, str] = {}
        for path in args.reviews:
            extra += [e for e in read_labelled(path, "text", "label")[0] if 8 <= len(e.text) <= 200]
            category |= column_by_text(path, "category")
    except (DataError, OSError) as exc:
        print(f"cannot read the data: {exc}", file=sys.stderr)
        return 2
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in examples:
        by_task.setdefault(str(e["task"]), []).append(e)
    replies = by_task.get("reply", [])[: args.replies]
    rng.shuffle(extra)
    for r in extra[: max(0, args.replies - len(replies))]:
        # a shop of the review's own category (when the file names one), with the default policy
        p = {"category": category.get(r.text, "")}
        tone = "apologetic" if r.label == "negative" else rng.choice(["warm", "professional", "concise"])
        replies.append(
            {"id": r.source, "task": "reply", "review": r.text, "label": r.label, "profile": p, "tone": tone}
        )
    copies = by_task.get("copy", [])[: args.copies]
    strategies = by_task.get("strategy", [])[: args.strategies]
    if not replies and not copies:
        print("no held-out examples found in --data for these ids", file=sys.stderr)
        return 2

    from nlp.aspects import detect_aspects
    from nlp.errors import ModelLoadError
    from nlp.models import load_writer
    from nlp.types import Sentiment
    from nlp.writer import CopyRequest, ReplyRequest, StrategyRequest

    try:
        writer = load_writer(nlp)
    except ModelLoadError as exc:
        print(f"model load failed: {exc}", file=sys.stderr)
        return 1

    def gold(review: str, label: Label) -> Sentiment:  # the example's own label, as the bot would pass it
        return Sentiment(label, {lab: float(lab == label) for lab in LABELS}, detect_aspects(review))

    checks: list[DraftCheck] = []
    start = time.perf_counter()
    for i, e in enumerate(replies):
        profile = profile_from_example(e)
        review = str(e["review"])
        draft = writer.reply(ReplyRequest(review, gold(review, e["label"]), profile))[0]
        checks.append(
            DraftCheck(
                "reply",
                e,
                draft.text,
                reply_problems(draft.text, review, profile),
                path=str(draft.params.get("path", "")),
                first_ok=draft.params.get("first_ok"),
                judged_ok=draft.ok,
            )
        )
        print(f"\rreplies {i + 1}/{len(replies)}", end="", file=sys.stderr, flush=True)
    reply_seconds = time.perf_counter() - start
    for i, e in enumerate(copies):
        facts = facts_from_dict(e["facts"])
        req = CopyRequest(
            facts, e.get("platform", "generic"), e.get("length", "medium"), e.get("tone", "warm"), n=1
        )
        draft = writer.copy(req)[0]
        problems = [f"{f.code}: {f.span or f.message}" for f in draft.findings]
        if not draft.text.strip():
            problems.append("empty")
        checks.append(DraftCheck("copy", e, draft.text, problems))
        print(f"\rcopies {i + 1}/{len(copies)}", end="", file=sys.stderr, flush=True)
    for e in strategies:
        draft = writer.strategy(StrategyRequest(_digest_of(str(e["summary"]))))
        lines = [x for x in draft.text.splitlines() if x.strip()]
        problems = [f"{f.code}: {f.span}" for f in draft.findings]
        if not 2 <= len(lines) <= 5 or not all(x.lstrip().startswith("-") for x in lines):
            problems.append("format")
        checks.append(DraftCheck("strategy", e, draft.text, problems))
    variety = []
    for e in replies[: args.variant_prompts]:
        profile = profile_from_example(e)
        review = str(e["review"])
        drafts = writer.reply(ReplyRequest(review, gold(review, e["label"]), profile, n=args.variants))
        variety.append(distinct_2([d.text for d in drafts]))
    print(file=sys.stderr)
    loss = _heldout_loss(writer, examples)

    text = writer_report(checks, variety, loss, reply_seconds, writer, args.show, rng)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        with args.output.with_suffix(".jsonl").open("w") as f:
            for c in checks:
                f.write(
                    json.dumps(
                        {"kind": c.kind, "id": example_key(c.prompt), "text": c.text, "problems": c.problems},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    return 0


def _digest_of(summary: str) -> Any:
    """A digest whose render() returns a stored summary verbatim (held-out strategy prompts)."""

    class Stored:
        def render(self) -> str:
            return summary

    return Stored()


def _heldout_loss(writer: Any, examples: Sequence[dict[str, Any]]) -> float | None:
    """Mean masked response loss of the loaded writer on the held-out examples (None: served)."""
    import torch

    from nlp.remote import RemoteModel

    if isinstance(writer.loaded, RemoteModel):  # a server gives no per-token loss here
        return None

    from training.train_writer import IGNORE, ResponseLoss, encode, render

    tok = writer.loaded.tokenizer
    wrapped = ResponseLoss(writer.loaded.model)
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for e in examples:
            row = encode(tok, *render(e), max_length=1024)
            if row is None:
                continue
            ids = torch.tensor([row["input_ids"]])
            labels = torch.tensor([row["labels"]])
            n = int((labels[:, 1:] != IGNORE).sum())
            loss = wrapped(
                ids.to(writer.loaded.input_device),
                torch.ones_like(ids).to(writer.loaded.input_device),
                labels.to(writer.loaded.input_device),
            )
            total += float(loss) * n
            tokens += n
    return total / tokens if tokens else None


def writer_report(
    checks: Sequence[DraftCheck],
    variety: Sequence[float],
    loss: float | None,
    reply_seconds: float,
    writer: Any,
    show: int,
    rng: random.Random,
) -> str:
    lines = [f"## Writer: {writer.loaded.model_id} adapter={writer.loaded.adapter_id or '-'}", ""]
    lines.append("| drafts | n | pass every check | most common problems |")
    lines.append("|---|---|---|---|")
    for kind in ("reply", "copy", "strategy"):
        rows = [c for c in checks if c.kind == kind]
        if not rows:
            continue
        passed = sum(c.passed for c in rows)
        problems = Counter(p.split(":")[0].split(" ")[0] for c in rows for p in c.problems)
        common = ", ".join(f"{k} {v}" for k, v in problems.most_common(5)) or "-"
        lines.append(f"| {kind} | {len(rows)} | {passed} ({passed / len(rows):.1%}) | {common} |")
    n_replies = sum(c.kind == "reply" for c in checks)
    lines.append("")
    if n_replies:
        lines.append(f"Reply generation: {reply_seconds / n_replies:.1f} s per reply on average.")
    if variety:
        lines.append(
            f"distinct-2 across {len(variety)} prompts x variants: mean {sum(variety) / len(variety):.3f}"
        )
    if loss is not None:
        lines.append(f"held-out masked response loss: {loss:.4f}")
    replies = [c for c in checks if c.kind == "reply"]
    lines += pipeline_lines(replies)
    copies = [c for c in checks if c.kind == "copy"]
    for title, sample in (
        ("Random replies", rng.sample(replies, min(show, len(replies)))),
        ("Random copies", rng.sample(copies, min(show // 2, len(copies)))),
    ):
        lines += ["", f"### {title} (unedited)", ""]
        for c in sample:
            src = c.prompt.get("review") or json.dumps(c.prompt.get("facts"), ensure_ascii=False)
            verdict = "pass" if c.passed else "FAIL: " + "; ".join(c.problems)
            lines += [
                f"- **{example_key(c.prompt)}** ({c.prompt.get('label', c.prompt.get('platform', ''))}) "
                f"{src[:120]}",
                f"  → {c.text}",
                f"  [{verdict}]",
            ]
    return "\n".join(lines) + "\n"


def pipeline_lines(replies: Sequence[DraftCheck]) -> list[str]:
    """The safe-reply pipeline's numbers: how often the composer stood in, how often one model
    sample alone would have passed the judge, and how often the reply shown passes it."""
    judged = [c for c in replies if c.path]
    if not judged:
        return []
    n = len(judged)
    composer = sum(c.path == "composer" for c in judged)
    first = sum(bool(c.first_ok) for c in judged)
    final = sum(bool(c.judged_ok) for c in judged)
    return [
        f"Reply pipeline over {n} replies: composer shown {composer} ({composer / n:.1%}); "
        f"single-sample model pass rate (judge) {first / n:.1%}; final pass rate (judge) {final / n:.1%}."
    ]


EVALS = {"classifier": eval_classifier, "aspects": eval_aspects, "writer": eval_writer}


def main(argv: Sequence[str], nlp: NLPConfig) -> int:
    if not argv or argv[0] not in EVALS:
        print(f"usage: xiaoer eval {'|'.join(EVALS)} [options] (see --help of each)", file=sys.stderr)
        return 2
    return EVALS[argv[0]](argv[1:], nlp)
