"""The writer's model on an OpenAI-compatible server (vLLM, llama.cpp's server, a hosted API).

Synchronous, like the local model code: the engine's worker thread calls it, never the event
loop. Only the decoding moves to the server; the plan, the composer, the checks, the judge and
best-of-k stay in xiaoer (nlp/writer.py). Candidates are asked for with `n`; a server that
returns fewer (llama.cpp's ignores `n`) is asked again for the rest.

Failures are the server's, not the merchant's, and they are told apart:
- a refused or dropped connection, a 429 or a 5xx, a timeout: retried with exponential backoff
  (a 429/503's Retry-After is honoured, up to 10 s) while nothing has been streamed yet;
- a refused API key (401/403) or an unknown model (404): not retried, the setting is wrong;
- after `breaker_failures` failed requests in a row the circuit opens: requests fail at once for
  `breaker_cooldown_s`, then one is let through to try again.
Everything ends in `ModelUnavailable` with a reason the bot turns into a message.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from nlp.config import WriterConfig
from nlp.errors import Cancelled, ModelUnavailable

__all__ = ["SERVED_WRITER", "CircuitBreaker", "Completion", "RemoteModel"]

log = logging.getLogger(__name__)

SERVED_WRITER = "xiaoer-writer"  # the name `xiaoer serve-writer` serves the bundled model under
MAX_RETRY_AFTER_S = 10.0

Prompt = str | list[dict[str, str]]
OnPiece = Callable[[str], None]


@dataclass(frozen=True)
class Completion:
    texts: list[str]
    prompt_tokens: int  # as the server counted them (0 when it does not say)
    new_tokens: list[int]  # per text: the server's count, else the streamed pieces


class CircuitBreaker:
    """Closed → (failures in a row) → open → (cooldown) → one trial → closed or open again."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._opened_at: float | None = None
        self._trial = False  # a request is already trying the server after the cooldown

    def before(self) -> None:
        """Raise ModelUnavailable("open") unless a request may go to the server now."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self.clock() - self._opened_at
            if waited < self.cooldown_s or self._trial:
                left = max(0.0, self.cooldown_s - waited)
                raise ModelUnavailable("open", f"{self._in_a_row} requests failed; next try in {left:.0f} s")
            self._trial = True

    def success(self) -> None:
        with self._lock:
            self._in_a_row, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._in_a_row += 1
            self._trial = False
            if self._in_a_row >= self.failures:
                if self._opened_at is None:
                    log.warning("writer server: %d failed requests in a row, pausing", self._in_a_row)
                self._opened_at = self.clock()


class _Retry(Exception):
    """A failure worth another attempt (only while nothing was streamed to the caller)."""

    def __init__(self, reason: str, detail: str, after: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.after = after


class RemoteModel:
    """A served model, seen by the Writer the way it sees a loaded one (model_id, adapter_id)."""

    def __init__(
        self,
        cfg: WriterConfig,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.model_id = SERVED_WRITER if cfg.model == "bundled" else cfg.model
        # The bundled adapter learnt the bare prompt; "none" says the server runs a plain base model.
        self.adapter_id = "" if (cfg.adapter or "").strip().lower() == "none" else "served"
        self.chat = cfg.api == "chat"
        self.sleep = sleep
        self.breaker = CircuitBreaker(cfg.breaker_failures, cfg.breaker_cooldown_s, clock)
        headers = {"Accept": "text/event-stream"}
        if cfg.api_key is not None and cfg.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {cfg.api_key.get_secret_value()}"
        timeout = httpx.Timeout(cfg.read_timeout_s, connect=cfg.connect_timeout_s)
        self.client = httpx.Client(
            base_url=cfg.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.client.close()

    def models(self) -> list[str]:
        """The names the server serves (GET /models): a start-up check for `xiaoer models check`."""
        self.breaker.before()
        try:
            r = self.client.get("/models", timeout=self.cfg.connect_timeout_s + 5)
        except httpx.HTTPError as exc:
            self.breaker.failure()
            raise ModelUnavailable("down", f"{self.cfg.base_url}: {type(exc).__name__}") from exc
        if r.status_code in (401, 403):
            self.breaker.failure()
            raise ModelUnavailable("auth", f"HTTP {r.status_code}")
        if r.status_code != 200:
            self.breaker.failure()
            raise ModelUnavailable("down", f"HTTP {r.status_code} from /models")
        self.breaker.success()
        return [str(m.get("id")) for m in r.json().get("data", []) if isinstance(m, dict)]

    def complete(
        self,
        prompt: Prompt,
        n: int,
        *,
        max_tokens: int,
        temperature: float,
        top_p: float,
        repetition_penalty: float,
        stops: tuple[str, ...],
        on_piece: OnPiece | None = None,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """n texts for `prompt`; `on_piece` receives the first one's text as it streams."""
        body: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stop": list(stops),
        }
        if temperature > 0:
            body["top_p"] = top_p
        if repetition_penalty != 1.0:  # not OpenAI's own field: vLLM and llama.cpp name it so
            body |= {"repetition_penalty": repetition_penalty, "repeat_penalty": repetition_penalty}
        if isinstance(prompt, str):
            path, body["prompt"] = "/completions", prompt
        else:
            path, body["messages"] = "/chat/completions", prompt
        texts: list[str] = []
        counts: list[int] = []
        prompt_tokens = 0
        while len(texts) < n:
            want = n - len(texts) if temperature > 0 else 1
            got, used, got_counts = self._request(
                path, {**body, "n": want}, on_piece if not texts else None, cancel
            )
            if not got:
                raise ModelUnavailable("down", "the server answered with no text choices")
            texts += got
            counts += got_counts
            prompt_tokens = prompt_tokens or used
            if temperature <= 0:  # greedy gives one answer; repeat so callers always get n
                texts, counts = texts * n, counts * n
        return Completion(texts[:n], prompt_tokens, counts[:n])

    # -- one request, with retries and the breaker ------------------------------------------

    def _request(
        self, path: str, body: dict[str, Any], on_piece: OnPiece | None, cancel: threading.Event | None
    ) -> tuple[list[str], int, list[int]]:
        self.breaker.before()
        streamed = [False]  # whether the caller was shown text: then a retry would show it twice

        def forward(piece: str) -> None:
            if on_piece is not None:
                streamed[0] = True
                on_piece(piece)

        attempt = 0
        while True:
            try:
                result = self._stream(path, body, forward, cancel)
            except _Retry as exc:
                if streamed[0] or attempt >= self.cfg.retries:
                    self.breaker.failure()
                    what = "stopped mid-answer" if streamed[0] else f"{attempt + 1} attempts"
                    raise ModelUnavailable(exc.reason, f"{exc} ({what})") from None
                delay = exc.after if exc.after is not None else 0.5 * 2**attempt * (1 + random.random() / 2)
                attempt += 1
                log.info("writer server: %s; attempt %d in %.1f s", exc, attempt + 1, delay)
                if cancel is not None and cancel.wait(delay):
                    raise Cancelled() from None
                if cancel is None:
                    self.sleep(delay)
                continue
            except ModelUnavailable:
                self.breaker.failure()
                raise
            self.breaker.success()
            return result

    def _stream(
        self, path: str, body: dict[str, Any], forward: OnPiece, cancel: threading.Event | None
    ) -> tuple[list[str], int, list[int]]:
        pieces: dict[int, list[str]] = {}
        counted: dict[int, int] = {}
        prompt_tokens = 0
        finished = False
        try:
            with self.client.stream("POST", path, json=body) as r:
                _raise_for_status(r)
                for data in _events(r.iter_lines()):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    if data == "[DONE]":
                        finished = True
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:  # some servers report a failure inside the stream
                        raise _Retry("down", f"the server failed mid-stream: {chunk['error']}")
                    usage = chunk.get("usage") or {}
                    prompt_tokens = int(usage.get("prompt_tokens") or prompt_tokens)
                    for choice in chunk.get("choices") or []:
                        i = int(choice.get("index", 0))
                        text = choice.get("text")
                        if text is None:
                            text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            pieces.setdefault(i, []).append(text)
                            counted[i] = counted.get(i, 0) + 1
                            if i == 0:
                                forward(text)
                        else:
                            pieces.setdefault(i, [])
        except httpx.TimeoutException as exc:
            raise _Retry("timeout", f"no answer within {self._timeout_of(exc)} s") from None
        except httpx.HTTPError as exc:  # refused, reset, closed mid-stream
            raise _Retry("down", f"{self.cfg.base_url}: {type(exc).__name__}") from None
        except (json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
            raise _Retry("down", f"the server sent something that is not a completion: {exc}") from None
        if not finished:
            raise _Retry("down", "the stream ended before the server said it was done")
        order = sorted(pieces)
        return ["".join(pieces[i]) for i in order], prompt_tokens, [counted.get(i, 0) for i in order]

    def _timeout_of(self, exc: httpx.TimeoutException) -> float:
        connect = isinstance(exc, httpx.ConnectTimeout)
        return self.cfg.connect_timeout_s if connect else self.cfg.read_timeout_s


def _raise_for_status(r: httpx.Response) -> None:
    if r.status_code == 200:
        return
    r.read()
    detail = f"HTTP {r.status_code}: {r.text[:200]}"
    if r.status_code in (401, 403):
        raise ModelUnavailable("auth", detail)
    if r.status_code == 404:
        raise ModelUnavailable("model", detail)
    if r.status_code == 429 or r.status_code >= 500:
        raise _Retry("down", detail, _retry_after(r))
    raise ModelUnavailable("refused", detail)  # 400, 422: e.g. a prompt longer than its context


def _retry_after(r: httpx.Response) -> float | None:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(r.headers.get("retry-after", ""))))
    except ValueError:
        return None


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The data of each server-sent event (one `data:` line per event, as these servers send)."""
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()
