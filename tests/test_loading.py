from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from nlp.config import WriterConfig
from nlp.errors import ModelLoadError
from nlp.loading import load_model, parse_source, resolve_dtype


def _never() -> Path:
    raise AssertionError("bundled weights must not be touched")


def test_parse_source_kinds(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert parse_source("bundled").kind == "bundled"
    assert parse_source(str(tmp_path)).kind == "dir"
    assert parse_source(str(gguf)).kind == "gguf"
    assert parse_source("google/gemma-3-1b-it").kind == "hub"
    with pytest.raises(ModelLoadError, match="not found"):
        parse_source(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelLoadError, match="not found"):
        parse_source("./no-such-dir")


def test_resolve_dtype_explicit_and_cpu_auto() -> None:
    assert resolve_dtype("float32", "cpu") is torch.float32
    assert resolve_dtype("bfloat16", "auto") is torch.bfloat16
    assert resolve_dtype("auto", "cpu") in (torch.float32, torch.bfloat16)


def test_load_places_and_reports(tiny_gemma_dir: Path) -> None:
    cfg = WriterConfig(model=str(tiny_gemma_dir), dtype="float32", device_map="auto")
    lm = load_model(cfg, AutoModelForCausalLM, bundled_dir=_never)
    assert lm.model_id == tiny_gemma_dir.name
    assert lm.device_map  # accelerate's placement is recorded
    assert {str(d) for d in lm.device_map.values()} <= {"cpu", "cpu:0"}
    assert next(lm.model.parameters()).dtype is torch.float32
    assert not lm.model.training


def test_missing_adapter_is_a_load_error(tiny_gemma_dir: Path, tmp_path: Path) -> None:
    cfg = WriterConfig(model=str(tiny_gemma_dir), adapter=str(tmp_path), dtype="float32")
    with pytest.raises(ModelLoadError, match=r"adapter_config\.json"):
        load_model(cfg, AutoModelForCausalLM, bundled_dir=_never)


def test_lora_adapter_is_applied(tiny_gemma_dir: Path, tmp_path: Path) -> None:
    base = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir, dtype=torch.float32)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[2, 10, 11, 12]])
    with torch.inference_mode():
        expected = peft_model(input_ids=ids).logits

    plain = load_model(
        WriterConfig(model=str(tiny_gemma_dir), dtype="float32"), AutoModelForCausalLM, bundled_dir=_never
    )
    adapted = load_model(
        WriterConfig(model=str(tiny_gemma_dir), adapter=str(tmp_path / "adapter"), dtype="float32"),
        AutoModelForCausalLM,
        bundled_dir=_never,
    )
    with torch.inference_mode():
        got = adapted.model(input_ids=ids).logits
        unadapted = plain.model(input_ids=ids).logits
    assert adapted.adapter_id == "adapter"
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(got, unadapted, atol=1e-3)


def test_default_adapter_used_only_when_present(tiny_gemma_dir: Path, tmp_path: Path) -> None:
    cfg = WriterConfig(model=str(tiny_gemma_dir), dtype="float32")
    lm = load_model(cfg, AutoModelForCausalLM, bundled_dir=_never, default_adapter=tmp_path / "nothing")
    assert lm.adapter_id == ""
    off = WriterConfig(model=str(tiny_gemma_dir), dtype="float32", adapter="none")
    assert load_model(off, AutoModelForCausalLM, bundled_dir=_never).adapter_id == ""
