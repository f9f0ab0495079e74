"""Builders that turn configuration into ready models (used by the engine's worker and the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from nlp.bundled import e5_dir, gemma_dir
from nlp.classifier import Classifier
from nlp.config import NLPConfig
from nlp.loading import load_model, parse_source
from nlp.writer import Writer

# Trained adapters shipped with the package are picked up automatically when present.
ADAPTERS = Path(__file__).parent / "adapters"


def load_classifier(cfg: NLPConfig) -> Classifier:
    c = cfg.classifier
    bundled = c.model == "bundled"
    default_adapter = ADAPTERS / "classifier" if bundled else None
    auto_cls: Any = AutoModel
    if _is_sequence_classifier(c.model) or (
        default_adapter and (default_adapter / "adapter_config.json").is_file()
    ):
        auto_cls = AutoModelForSequenceClassification
    loaded = load_model(
        c, auto_cls, bundled_dir=lambda: e5_dir(cfg.cache_dir), default_adapter=default_adapter
    )
    return Classifier(loaded, c)


def load_writer(cfg: NLPConfig) -> Writer:
    w = cfg.writer
    default_adapter = ADAPTERS / "writer" if w.model == "bundled" else None
    loaded = load_model(
        w, AutoModelForCausalLM, bundled_dir=lambda: gemma_dir(cfg.cache_dir), default_adapter=default_adapter
    )
    return Writer(loaded, w)


def _is_sequence_classifier(name: str) -> bool:
    """A local checkpoint trained for classification (hub ids: assume a plain encoder)."""
    source = parse_source(name)
    if source.kind != "dir":
        return False
    archs = AutoConfig.from_pretrained(source.location).architectures or []
    return any(a.endswith("ForSequenceClassification") for a in archs)
