"""Errors raised by the NLP engine.

    NLPError
    ├── ModelLoadError      a model, tokenizer, adapter or bundled package could not be loaded
    ├── InputError          the request itself is unusable (empty, too long, wrong type)
    ├── Cancelled           work stopped because its caller gave up (timeout, shutdown)
    └── EngineError         the async engine could not serve the request
        ├── EngineBusy      the queue is full; try again shortly
        ├── EngineTimeout   the request took longer than the configured timeout
        ├── EngineClosed    the engine was shut down
        ├── ModelUnavailable the served writer (an OpenAI-compatible server) cannot be used now
        └── WorkerCrashed   the model's worker died holding the request; a new worker took over

Messages are written for the person at the keyboard: they say what happened and what to do.
"""

from __future__ import annotations


class NLPError(Exception):
    """Base class of every error the NLP engine raises on purpose."""


class ModelLoadError(NLPError):
    pass


class InputError(NLPError):
    pass


class Cancelled(NLPError):
    pass


class EngineError(NLPError):
    pass


class EngineBusy(EngineError):
    pass


class EngineTimeout(EngineError):
    pass


class EngineClosed(EngineError):
    pass


class WorkerCrashed(EngineError):
    """The model's worker thread died while it held this request; a new worker takes over."""


class ModelUnavailable(EngineError):
    """The served model did not answer usefully; `reason` says why, for the merchant's message.

    "down": refused, unreachable, closed the stream mid-answer or kept failing (5xx, 429);
    "timeout": connected but sent nothing for too long; "auth": the API key was refused;
    "model": the server does not serve the configured model; "refused": it refused this request
    (400, e.g. a prompt longer than its context); "open": recent requests failed,
    so this one was not sent (the circuit breaker waits before trying again).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"the writer server cannot be used now ({reason}): {detail}")
        self.reason = reason
