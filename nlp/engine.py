"""The async facade over the synchronous models: inference workers, queues, micro-batching.

The bot and the console await `Engine` methods; the models run on worker threads so the event
loop stays free for other chats. There is one worker (and one queue) per model: the classifier's
and the writer's, so a review card never waits behind another chat's long generation; each model
is only ever touched by its own thread. Concurrent `classify` calls that arrive within
`batch_wait_ms` of each other are merged into one forward pass (up to `max_batch` texts).
Every request has a timeout; a request whose caller gave up is skipped if it has not started,
and a running generation is stopped at the next token.

A worker that dies (anything escaping its loop, e.g. a `BaseException` from a model) fails the
jobs it held with `WorkerCrashed` at once and is replaced by a new thread; crashes in a row wait
longer before each restart (`restart_delay`) so that a crash loop cannot spin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nlp.config import EngineConfig
from nlp.errors import (
    Cancelled,
    EngineBusy,
    EngineClosed,
    EngineTimeout,
    InputError,
    WorkerCrashed,
)
from nlp.types import Draft, Sentiment

if TYPE_CHECKING:
    from nlp.writer import Request

log = logging.getLogger(__name__)

RESTART_BASE_S = 0.5  # the second crash within CRASH_WINDOW_S waits this long, then doubling
RESTART_MAX_S = 30.0  # a crash loop restarts at most this rarely
CRASH_WINDOW_S = 60.0  # crashes further apart than this count as unrelated


def restart_delay(recent_crashes: int) -> float:
    """Seconds to wait before restarting a worker that crashed `recent_crashes` times lately."""
    if recent_crashes <= 1:
        return 0.0  # a single crash: serve the queue again right away
    return min(RESTART_MAX_S, RESTART_BASE_S * 2.0 ** (recent_crashes - 2))


class SupportsClassify(Protocol):
    def classify(self, texts: Sequence[str]) -> list[Sentiment]: ...


class SupportsGenerate(Protocol):
    def generate(
        self,
        req: Request,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Draft]: ...


@dataclass
class _Job:
    kind: str  # "classify" | "generate" | "call"
    payload: Any
    future: Future[Any] = field(default_factory=Future)
    cancel: threading.Event = field(default_factory=threading.Event)
    on_text: Callable[[str], None] | None = None
    enqueued: float = field(default_factory=time.perf_counter)


_STOP = _Job("stop", None)


@dataclass
class EngineStats:
    batches: int = 0  # classify forward passes
    classified: int = 0  # texts classified
    generations: int = 0
    timeouts: int = 0
    largest_batch: int = 0
    restarts: int = 0  # workers replaced after a crash


class _Lane:
    """One worker thread and its queue."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.queue: queue.Queue[_Job] = queue.Queue(maxsize=size)
        self.thread: threading.Thread | None = None
        self.held: list[_Job] = []  # taken from the queue and not answered yet
        self.crashes: list[float] = []  # time.monotonic() of recent crashes


class Engine:
    """Owns the worker threads. Each model is built lazily on its own worker by its factory."""

    def __init__(
        self,
        cfg: EngineConfig,
        classifier: Callable[[], SupportsClassify],
        writer: Callable[[], SupportsGenerate],
    ) -> None:
        self.cfg = cfg
        self._make_classifier = classifier
        self._make_writer = writer
        self._classifier: SupportsClassify | None = None
        self._writer: SupportsGenerate | None = None
        self._load_lock = threading.Lock()
        self._classify = _Lane("classify", cfg.queue_size)
        self._generate = _Lane("generate", cfg.queue_size)
        self._closed = False
        self._stopping = threading.Event()  # wakes a worker waiting out its restart delay
        self._lane_lock = threading.Lock()  # guards lane.thread against a restart during close
        self.stats = EngineStats()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        with self._lane_lock:
            for lane in (self._classify, self._generate):
                if lane.thread is None:
                    self._spawn(lane, 0.0)

    def _spawn(self, lane: _Lane, delay: float) -> None:
        # the caller holds _lane_lock
        lane.thread = threading.Thread(
            target=self._work, args=(lane, delay), name=f"xiaoer-{lane.name}", daemon=True
        )
        lane.thread.start()

    async def load(self, classifier: bool = True, writer: bool = True) -> None:
        """Build the models now (each on its worker) instead of on first use."""
        pending = []
        if classifier:
            pending.append(
                self._submit(self._classify, _Job("call", lambda: self._ensure(True, False)), None)
            )
        if writer:
            pending.append(
                self._submit(self._generate, _Job("call", lambda: self._ensure(False, True)), None)
            )
        await asyncio.gather(*pending)

    async def close(self) -> None:
        """Cancel what waits, let the running job stop, join the worker."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        for lane in (self._classify, self._generate):
            while True:
                try:
                    job = lane.queue.get_nowait()
                except queue.Empty:
                    break
                job.cancel.set()
                _fail(job, EngineClosed("the engine was shut down"))
            if lane.thread is not None:
                lane.queue.put(_STOP)
            while (thread := lane.thread) is not None:  # a crashed worker's successor takes _STOP
                await asyncio.to_thread(thread.join)
                with self._lane_lock:
                    if lane.thread is thread:
                        lane.thread = None

    async def __aenter__(self) -> Engine:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def queue_depth(self) -> int:
        return self._classify.queue.qsize() + self._generate.queue.qsize()

    # -- requests ---------------------------------------------------------------------------

    async def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        if not texts:
            return []
        result: list[Sentiment] = await self._submit(self._classify, _Job("classify", list(texts)))
        return result

    async def generate(self, req: Request, on_text: Callable[[str], None] | None = None) -> list[Draft]:
        """Run a writer request; `on_text` (called on the event loop) receives streamed text."""
        callback = None
        if on_text is not None:
            loop = asyncio.get_running_loop()

            def callback(text: str) -> None:
                loop.call_soon_threadsafe(on_text, text)

        result: list[Draft] = await self._submit(self._generate, _Job("generate", req, on_text=callback))
        return result

    async def stream(self, req: Request) -> AsyncIterator[str]:
        """Yield the first draft's text as it is generated."""
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.ensure_future(self.generate(req, on_text=pieces.put_nowait))
        task.add_done_callback(lambda _: pieces.put_nowait(None))
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            task.result()  # re-raise the generation's error, if any
        finally:
            task.cancel()

    async def _submit(self, lane: _Lane, job: _Job, limit: float | bool | None = True) -> Any:
        if self._closed:
            raise EngineClosed("the engine was shut down")
        self.start()
        try:
            lane.queue.put_nowait(job)
        except queue.Full:
            raise EngineBusy("模型正忙，请稍后再试 / the model is busy, try again shortly") from None
        seconds = self.cfg.request_timeout_s if limit is True else limit
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), seconds or None)
        except TimeoutError:
            self.stats.timeouts += 1
            raise EngineTimeout(
                f"处理超时（{self.cfg.request_timeout_s:.0f} 秒），请缩短内容或稍后再试"
            ) from None
        finally:
            job.cancel.set()  # done, timed out or cancelled: the worker may drop it

    # -- worker thread ----------------------------------------------------------------------

    def _ensure(self, classifier: bool, writer: bool) -> None:
        # One load at a time: from_pretrained switches torch's process-wide default dtype while
        # it builds a model, so two concurrent loads can leave layers in each other's dtype.
        with self._load_lock:
            if classifier and self._classifier is None:
                self._classifier = self._make_classifier()
            if writer and self._writer is None:
                self._writer = self._make_writer()

    def _work(self, lane: _Lane, delay: float) -> None:
        """A worker's life: serve the lane until _STOP; if anything escapes, hand over to a new one."""
        if self._stopping.wait(delay):
            return  # closed while waiting to restart; close() joins us and stops
        try:
            self._serve(lane)
        except BaseException as exc:  # a dying worker must still answer its jobs and be replaced
            self._crashed(lane, exc)

    def _serve(self, lane: _Lane) -> None:
        while True:
            job = lane.queue.get()
            if job is _STOP:
                return
            if job.cancel.is_set():
                continue  # its caller already gave up
            lane.held = [job]
            if job.kind == "classify":
                self._gather(lane, lane.held)
                self._run_batch(lane.held)
            else:
                self._run_one(job)
            lane.held = []

    def _crashed(self, lane: _Lane, exc: BaseException) -> None:
        """Fail the jobs the dead worker held and start its successor (later, in a crash loop)."""
        log.error("the %s worker died; starting a new one", lane.name, exc_info=exc)
        held, lane.held = lane.held, []  # before the successor starts taking jobs
        now = time.monotonic()
        lane.crashes = [t for t in lane.crashes if now - t < CRASH_WINDOW_S] + [now]
        with self._lane_lock:  # the successor exists before the callers hear of the crash
            if not self._closed and lane.thread is threading.current_thread():
                self.stats.restarts += 1
                self._spawn(lane, restart_delay(len(lane.crashes)))
        crashed = "模型出错，已自动重启，请再试一次 / the model worker crashed and was restarted; try again"
        for job in held:
            _fail(job, WorkerCrashed(crashed))

    def _gather(self, lane: _Lane, jobs: list[_Job]) -> None:
        """Add classify jobs that arrive within batch_wait_ms to `jobs`, up to max_batch texts."""
        size = sum(len(j.payload) for j in jobs)
        deadline = time.perf_counter() + self.cfg.batch_wait_ms / 1000
        while size < self.cfg.max_batch:
            try:
                nxt = lane.queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if nxt.kind != "classify" or nxt is _STOP:
                _requeue_front(lane.queue, nxt)
                break
            if not nxt.cancel.is_set():
                jobs.append(nxt)
                size += len(nxt.payload)

    def _run_batch(self, jobs: list[_Job]) -> None:
        texts = [t for j in jobs for t in j.payload]
        try:
            self._ensure(classifier=True, writer=False)
            assert self._classifier is not None
            results = self._classifier.classify(texts)
        except Exception as exc:  # a BaseException ends the worker: _crashed answers these jobs
            for j in jobs:
                _fail(j, exc)
            return
        self.stats.batches += 1
        self.stats.classified += len(texts)
        self.stats.largest_batch = max(self.stats.largest_batch, len(texts))
        start = 0
        for j in jobs:
            _resolve(j, results[start : start + len(j.payload)])
            start += len(j.payload)

    def _run_one(self, job: _Job) -> None:
        try:
            if job.kind == "call":
                _resolve(job, job.payload())
                return
            self._ensure(classifier=False, writer=True)
            assert self._writer is not None
            drafts = self._writer.generate(job.payload, on_text=job.on_text, cancel=job.cancel)
            self.stats.generations += 1
            _resolve(job, drafts)
        except Cancelled:
            _fail(job, EngineTimeout("cancelled"))
        except Exception as exc:
            _fail(job, exc)


def _requeue_front(q: queue.Queue[_Job], job: _Job) -> None:
    # queue.Queue has no push-front; its deque does. Keeps arrival order for other kinds.
    with q.mutex:
        q.queue.appendleft(job)
        q.not_empty.notify()


def _resolve(job: _Job, value: Any) -> None:
    with contextlib.suppress(InvalidStateError):  # the caller cancelled it meanwhile
        job.future.set_result(value)


def _fail(job: _Job, exc: Exception) -> None:
    if not isinstance(exc, (InputError, EngineTimeout, WorkerCrashed)):
        log.exception("inference job failed", exc_info=exc)
    with contextlib.suppress(InvalidStateError):
        job.future.set_exception(exc)
