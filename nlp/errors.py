"""Errors raised by the NLP engine.

    NLPError
    ├── ModelLoadError      a model, tokenizer, adapter or bundled package could not be loaded
    ├── InputError          the request itself is unusable (empty, too long, wrong type)
    ├── Cancelled           work stopped because its caller gave up (timeout, shutdown)
    └── EngineError         the async engine could not serve the request
        ├── EngineBusy      the queue is full; try again shortly
        ├── EngineTimeout   the request took longer than the configured timeout
        ├── EngineClosed    the engine was shut down
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
