from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.tiny import save_tiny_encoder, save_tiny_gemma

# Fuzzing (tests/test_resilience_fuzz.py): the same examples on every run, no per-example deadline
# (the examples drive a real bot), bounded so the whole suite gains well under a minute.
# HYPOTHESIS_PROFILE=dev runs more examples, randomised, for a local hunt.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30, database=None)
settings.register_profile("dev", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def tiny_gemma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_gemma(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_encoder(tmp_path_factory.mktemp("tiny-e5"))
