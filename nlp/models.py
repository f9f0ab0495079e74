"""Builders that turn configuration into ready models (used by the engine's worker and the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    PretrainedConfig,
)

from nlp.bundled import e5_dir, gemma_dir
from nlp.calibration import Calibration
from nlp.classifier import Classifier
from nlp.config import NLPConfig
from nlp.errors import ModelLoadError
from nlp.lexical import LexicalModel
from nlp.loading import load_model, parse_source, resolve_adapter
from nlp.remote import RemoteModel
from nlp.tagger import Tagger
from nlp.writer import Writer

# Trained adapters shipped with the package are picked up automatically when present.
ADAPTERS = Path(__file__).parent / "adapters"


def load_classifier(cfg: NLPConfig) -> Classifier:
    """The encoder, plus the trained head when a classification adapter is configured or shipped."""
    c = cfg.classifier
    default_adapter = ADAPTERS / "classifier" if c.model == "bundled" else None
    adapter = resolve_adapter(c.adapter, default_adapter)
    auto_cls: Any = AutoModel
    kwargs: dict[str, Any] = {}
    head = _head_config(adapter)
    if head is not None:
        # the base gets the adapter's label set; peft then loads the trained pooler and head
        auto_cls = AutoModelForSequenceClassification
        kwargs = {"num_labels": head.num_labels, "id2label": head.id2label, "label2id": head.label2id}
    elif _is_sequence_classifier(c.model):
        auto_cls = AutoModelForSequenceClassification
    loaded = load_model(
        c,
        auto_cls,
        bundled_dir=lambda: e5_dir(cfg.cache_dir),
        default_adapter=default_adapter,
        model_kwargs=kwargs,
    )
    lexical = LexicalModel.load(adapter) if adapter is not None and head is not None else None
    try:
        calibration = Calibration.load(adapter if head is not None else None)
    except (ValueError, OSError) as exc:  # a hand-edited or truncated calibration.json
        raise ModelLoadError(f"the classifier's calibration cannot be read: {exc}") from exc
    return Classifier(loaded, c, lexical, load_tagger(cfg.tagger), calibration)


def _head_config(adapter: Path | None) -> PretrainedConfig | None:
    if adapter is None or not (adapter / "config.json").is_file():
        return None
    config = AutoConfig.from_pretrained(adapter)
    archs = config.architectures or []
    return config if any(a.endswith("ForSequenceClassification") for a in archs) else None


def load_writer(cfg: NLPConfig) -> Writer:
    w = cfg.writer
    if w.backend == "openai":  # nothing to load: the server holds the model (nlp/remote.py)
        return Writer(RemoteModel(w), w, load_tagger(cfg.tagger))
    default_adapter = ADAPTERS / "writer" if w.model == "bundled" else None
    loaded = load_model(
        w, AutoModelForCausalLM, bundled_dir=lambda: gemma_dir(cfg.cache_dir), default_adapter=default_adapter
    )
    return Writer(loaded, w, load_tagger(cfg.tagger))


def load_tagger(setting: str) -> Tagger | None:
    """The clause tagger a setting names: "bundled", a directory, or "none"."""
    if setting.strip().lower() == "none":
        return None
    directory = ADAPTERS / "tagger" if setting == "bundled" else Path(setting).expanduser()
    try:
        tagger = Tagger.load(directory)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"could not load the clause tagger in {directory}: {exc}") from exc
    if tagger is None and setting != "bundled":
        raise ModelLoadError(
            f"XIAOER_NLP__TAGGER: no clause tagger in {directory} (tagger.json, tagger.safetensors)"
        )
    return tagger


def _is_sequence_classifier(name: str) -> bool:
    """A local checkpoint trained for classification (hub ids: assume a plain encoder)."""
    source = parse_source(name)
    if source.kind != "dir":
        return False
    archs = AutoConfig.from_pretrained(source.location).architectures or []
    return any(a.endswith("ForSequenceClassification") for a in archs)
