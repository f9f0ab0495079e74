"""The async engine: micro-batching, timeouts, cancellation, and a free event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from typing import Any as Request  # any writer request; the fakes ignore it

import pytest

from nlp.config import EngineConfig
from nlp.engine import RESTART_MAX_S, Engine, WorkerCrashed, restart_delay
from nlp.errors import Cancelled, EngineBusy, EngineClosed, EngineTimeout, InputError
from nlp.types import Draft, Sentiment


class RecordingClassifier:
    """Labels by a keyword; records the size of every batch it is given."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[int] = []
        self.delay = delay

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        self.batches.append(len(texts))
        time.sleep(self.delay)  # blocks the worker thread, never the loop
        return [
            Sentiment(
                "negative" if "差" in t else "positive",
                {"negative": 0.9, "neutral": 0.0, "positive": 0.1}
                if "差" in t
                else {"negative": 0.1, "neutral": 0.0, "positive": 0.9},
            )
            for t in texts
        ]


class SlowWriter:
    """Emits one piece per step until done or cancelled."""

    def __init__(self, steps: int = 5, step_s: float = 0.05) -> None:
        self.steps = steps
        self.step_s = step_s
        self.cancelled = threading.Event()

    def generate(
        self,
        req: Request,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Draft]:
        text = ""
        for i in range(self.steps):
            if cancel is not None and cancel.is_set():
                self.cancelled.set()
                raise Cancelled()
            time.sleep(self.step_s)
            piece = f"片{i}"
            text += piece
            if on_text is not None:
                on_text(piece)
        return [Draft("reply", text)]


def make(
    cfg: EngineConfig | None = None, clf: RecordingClassifier | None = None, writer: SlowWriter | None = None
) -> tuple[Engine, RecordingClassifier, SlowWriter]:
    c = clf or RecordingClassifier()
    w = writer or SlowWriter()
    return Engine(cfg or EngineConfig(), classifier=lambda: c, writer=lambda: w), c, w


async def test_concurrent_classify_calls_are_batched_and_answered_in_order() -> None:
    engine, clf, _ = make(EngineConfig(max_batch=64, batch_wait_ms=50), RecordingClassifier(delay=0.05))
    async with engine:
        texts = [[f"好{i}", f"差{i}"] for i in range(20)]
        results = await asyncio.gather(*(engine.classify(t) for t in texts))
    assert [[s.label for s in r] for r in results] == [["positive", "negative"]] * 20
    assert sum(clf.batches) == 40
    assert len(clf.batches) < 20  # merged: far fewer forward passes than calls
    assert max(clf.batches) > 2
    assert engine.stats.largest_batch == max(clf.batches)


async def test_batches_respect_max_batch() -> None:
    engine, clf, _ = make(EngineConfig(max_batch=4, batch_wait_ms=50), RecordingClassifier(delay=0.02))
    async with engine:
        await asyncio.gather(*(engine.classify([f"好{i}"]) for i in range(12)))
    assert sum(clf.batches) == 12
    assert max(clf.batches) <= 4


async def test_timeout_fires_and_running_generation_is_cancelled() -> None:
    writer = SlowWriter(steps=100, step_s=0.02)
    engine, _, _ = make(EngineConfig(request_timeout_s=0.2), writer=writer)
    async with engine:
        start = time.perf_counter()
        with pytest.raises(EngineTimeout):
            await engine.generate(object())  # type: ignore[arg-type]
        assert time.perf_counter() - start < 1.0
        assert await asyncio.to_thread(writer.cancelled.wait, 2.0)  # the worker stopped generating
        assert engine.stats.timeouts == 1


async def test_event_loop_stays_free_while_a_generation_runs() -> None:
    engine, _, _ = make(writer=SlowWriter(steps=10, step_s=0.05))  # ~0.5 s of blocking work
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with engine:
        beat = asyncio.create_task(heartbeat())
        await engine.generate(object())  # type: ignore[arg-type]
        beat.cancel()
    assert ticks > 20  # the loop kept running every ~10 ms during the generation


async def test_stream_yields_pieces_then_finishes() -> None:
    engine, _, _ = make(writer=SlowWriter(steps=4, step_s=0.01))
    async with engine:
        pieces = [p async for p in engine.stream(object())]  # type: ignore[arg-type]
    assert pieces == ["片0", "片1", "片2", "片3"]


async def test_queue_full_is_refused_with_busy() -> None:
    engine, _, _ = make(EngineConfig(queue_size=1), writer=SlowWriter(steps=20, step_s=0.02))
    async with engine:
        first = asyncio.create_task(engine.generate(object()))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the worker took it; the queue is empty again
        second = asyncio.create_task(engine.generate(object()))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        with pytest.raises(EngineBusy):
            await engine.generate(object())  # type: ignore[arg-type]
        await asyncio.gather(first, second)


async def test_errors_reach_the_caller_and_the_worker_survives() -> None:
    class Failing(RecordingClassifier):
        def classify(self, texts: Sequence[str]) -> list[Sentiment]:
            if "坏" in texts[0]:
                raise InputError("bad input")
            return super().classify(texts)

    engine, _, _ = make(clf=Failing(), cfg=EngineConfig(batch_wait_ms=0))
    async with engine:
        with pytest.raises(InputError):
            await engine.classify(["坏"])
        assert [s.label for s in await engine.classify(["好"])] == ["positive"]


async def test_close_rejects_new_work() -> None:
    engine, _, _ = make()
    engine.start()
    await engine.close()
    with pytest.raises(EngineClosed):
        await engine.classify(["好"])


async def test_model_load_failure_is_reported_not_fatal() -> None:
    from nlp.errors import ModelLoadError

    def broken() -> RecordingClassifier:
        raise ModelLoadError("no weights")

    engine = Engine(EngineConfig(), classifier=broken, writer=SlowWriter)
    async with engine:
        with pytest.raises(ModelLoadError, match="no weights"):
            await engine.load(writer=False)
        assert (await engine.generate(object()))[0].text  # type: ignore[arg-type]


async def test_review_cards_do_not_wait_behind_a_long_generation() -> None:
    engine, _, _ = make(writer=SlowWriter(steps=40, step_s=0.05))  # ~2 s of generation
    async with engine:
        generation = asyncio.create_task(engine.generate(object()))  # type: ignore[arg-type]
        await asyncio.sleep(0.1)  # the writer's worker is busy now
        start = time.perf_counter()
        labels = [s.label for s in await engine.classify(["好", "差"])]
        waited = time.perf_counter() - start
        assert not generation.done()
        await generation
    assert labels == ["positive", "negative"]
    assert waited < 0.5


class Fatal(BaseException):
    """Like SystemExit or KeyboardInterrupt: not an Exception, so it ends the worker thread."""


class CrashingClassifier(RecordingClassifier):
    """Raises `Fatal` (a BaseException) for texts containing 崩; classifies the rest."""

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        if any("崩" in t for t in texts):
            raise Fatal()
        return super().classify(texts)


async def test_a_worker_killed_by_a_base_exception_fails_its_job_and_is_replaced() -> None:
    engine, _, _ = make(EngineConfig(request_timeout_s=30, batch_wait_ms=0), CrashingClassifier())
    async with engine:
        start = time.perf_counter()
        with pytest.raises(WorkerCrashed, match="try again"):
            await engine.classify(["崩"])
        assert [s.label for s in await engine.classify(["好", "差"])] == ["positive", "negative"]
        assert time.perf_counter() - start < 2.0  # nowhere near the 30 s request timeout
        assert engine.stats.restarts == 1


async def test_a_writer_worker_killed_by_system_exit_is_replaced() -> None:
    class ExitingWriter(SlowWriter):
        def generate(self, req: Request, on_text: Any = None, cancel: Any = None) -> list[Draft]:
            if req == "exit":
                raise SystemExit(1)
            return super().generate(req, on_text, cancel)

    engine, _, _ = make(EngineConfig(request_timeout_s=30), writer=ExitingWriter(steps=2, step_s=0.01))
    async with engine:
        start = time.perf_counter()
        with pytest.raises(WorkerCrashed):
            await engine.generate("exit")
        assert (await engine.generate("ok"))[0].text == "片0片1"
        assert time.perf_counter() - start < 2.0
        assert engine.stats.restarts == 1


async def test_a_crash_while_gathering_a_batch_fails_the_held_jobs_promptly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _, _ = make(EngineConfig(request_timeout_s=30))

    def broken_gather(lane: Any, jobs: Any) -> None:
        raise RuntimeError("gather broke")

    async with engine:
        monkeypatch.setattr(engine, "_gather", broken_gather)
        start = time.perf_counter()
        with pytest.raises(WorkerCrashed):
            await engine.classify(["好"])
        monkeypatch.undo()
        assert [s.label for s in await engine.classify(["差"])] == ["negative"]
        assert time.perf_counter() - start < 2.0


async def test_a_crash_loop_backs_off_and_close_does_not_wait_for_the_backoff() -> None:
    assert [restart_delay(n) for n in range(1, 5)] == [0.0, 0.5, 1.0, 2.0]
    assert restart_delay(100) == RESTART_MAX_S
    engine, _, _ = make(EngineConfig(request_timeout_s=30, batch_wait_ms=0), CrashingClassifier())
    async with engine:
        with pytest.raises(WorkerCrashed):
            await engine.classify(["崩"])
        with pytest.raises(WorkerCrashed):
            await engine.classify(["崩"])  # the second crash in a row: the next worker waits 0.5 s
        start = time.perf_counter()
        assert [s.label for s in await engine.classify(["好"])] == ["positive"]
        assert 0.4 < time.perf_counter() - start < 3.0
        for _ in range(2):
            with pytest.raises(WorkerCrashed):
                await engine.classify(["崩"])  # now the successor waits 2 s before it serves
        start = time.perf_counter()
    assert time.perf_counter() - start < 1.0  # close() woke the waiting worker
    assert engine.stats.restarts == 4
