"""Kim-style CNN sentence classifier in JAX (optionally with stacked convolutions), written so the ONNX export
can mirror it op for op.

Each convolution is explicit: the k shifted copies of its input are concatenated per position and
multiplied by one weight matrix. Inference then costs a single GEMM plus small copies, which onnxruntime
runs fast on one core, and the export reproduces training exactly rather than approximating lax.conv.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sst2 import pad_batch

Params = dict[str, jax.Array]


@dataclass(frozen=True)
class CnnConfig:
    vocab_size: int
    dim: int
    width: int  # tokens per convolution window
    filters: int  # per convolution layer
    dropout: float
    embed_dropout: float
    members: int  # ensemble members trained side by side (vmap); logits are averaged
    layers: int = 1  # stacked convolutions; every layer's output is pooled


def init_member(cfg: CnnConfig, key: jax.Array) -> Params:
    k_emb, k_out, *k_convs = jax.random.split(key, 2 + cfg.layers)
    pooled = 2 * cfg.filters * cfg.layers
    p = {
        "emb": jax.random.uniform(k_emb, (cfg.vocab_size, cfg.dim), minval=-0.25, maxval=0.25),
        "out_w": jax.random.normal(k_out, (pooled, 2)) * np.sqrt(1.0 / pooled),
        "out_b": jnp.zeros((2,)),
    }
    for i, k_conv in enumerate(k_convs):
        fan_in = (cfg.dim if i == 0 else cfg.filters) * cfg.width
        p[f"conv{i}_w"] = jax.random.normal(k_conv, (fan_in, cfg.filters)) * np.sqrt(2.0 / fan_in)
        p[f"conv{i}_b"] = jnp.zeros((cfg.filters,))
    return p


def init_params(cfg: CnnConfig, seed: int) -> Params:
    keys = jax.random.split(jax.random.PRNGKey(seed), cfg.members)
    return jax.vmap(lambda k: init_member(cfg, k))(keys)


def conv(cfg: CnnConfig, x: jax.Array, mask: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
    """ReLU of a convolution whose windows are centred on each token (zeros beyond both ends of the sentence),
    zeroed at padded positions so the next layer and the pooling see only real tokens."""
    length, k = x.shape[1], cfg.width
    left = (k - 1) // 2
    padded = jnp.pad(x, ((0, 0), (left, k - 1 - left), (0, 0)))
    windows = jnp.concatenate([padded[:, j : j + length] for j in range(k)], axis=-1)
    return jax.nn.relu(windows @ w + b) * mask[..., None]


def pooled_features(cfg: CnnConfig, p: Params, x: jax.Array, mask: jax.Array) -> jax.Array:
    """Masked max-pool and mean-pool of every layer. A second layer sees five tokens around each position, enough
    for a negation or a "but" to reach the words it turns; the first layer's features keep the plain n-grams."""
    pooled = []
    h = x
    for i in range(cfg.layers):
        h = conv(cfg, h, mask, p[f"conv{i}_w"], p[f"conv{i}_b"])
        # ReLU output is >= 0, so zeroing padded positions before max equals a masked max. The mean adds how
        # much of a long sentence carries each feature, which the single strongest window cannot tell.
        pooled += [h.max(axis=1), h.sum(axis=1) / mask.sum(axis=1, keepdims=True)]
    return jnp.concatenate(pooled, axis=-1)


def member_logits(
    cfg: CnnConfig, p: Params, ids: jax.Array, mask: jax.Array, key: jax.Array | None
) -> jax.Array:
    x = p["emb"][ids] * mask[..., None]
    if key is not None:
        k_emb, k_feat = jax.random.split(key)
        # Whole-token dropout: the model must not hinge on any single word (cf. DAN's word dropout).
        keep = jax.random.bernoulli(k_emb, 1 - cfg.embed_dropout, (*x.shape[:2], 1))
        x = x * keep / (1 - cfg.embed_dropout)
    h = pooled_features(cfg, p, x, mask)
    if key is not None:
        h = h * jax.random.bernoulli(k_feat, 1 - cfg.dropout, h.shape) / (1 - cfg.dropout)
    return h @ p["out_w"] + p["out_b"]


def ensemble_logits(cfg: CnnConfig, params: Params, ids: jax.Array, mask: jax.Array) -> jax.Array:
    per_member = jax.vmap(lambda p: member_logits(cfg, p, ids, mask, None))(params)
    return per_member.mean(axis=0)


def predict(cfg: CnnConfig, params: Params, seqs: list[np.ndarray], pad_id: int) -> np.ndarray:
    """Ensemble logits for `seqs`, 128 rows at a time, each batch padded to its longest row."""
    fwd = jax.jit(lambda p, i, m: ensemble_logits(cfg, p, i, m))
    out = []
    for i in range(0, len(seqs), 128):
        ids, mask = pad_batch(seqs[i : i + 128], pad_id)
        out.append(np.asarray(fwd(params, ids, mask)))
    return np.concatenate(out)


def bucket_batches(lengths: np.ndarray, batch_size: int, bucket: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Batches of similar padded length (multiples of `bucket`) so few shapes get compiled and little is padding."""
    padded = -(-lengths // bucket) * bucket
    batches: list[np.ndarray] = []
    for width in np.unique(padded):
        idx = rng.permutation(np.flatnonzero(padded == width))
        batches.extend(idx[i : i + batch_size] for i in range(0, len(idx), batch_size))
    for b in rng.permutation(len(batches)):
        yield batches[b]


def make_distill_step(cfg: CnnConfig, opt: optax.GradientTransformation, ema_decay: float):
    """One training step on a mix of rows: where `soft` is 1 the student regresses the teacher's logits `targets`
    (mean squared error, as in Tang et al. 2019), elsewhere it learns the gold `labels` (cross-entropy).
    Each ensemble member gets its own loss (not a loss on the averaged logits) so members stay independent."""

    def loss_fn(params: Params, ids, mask, labels, targets, soft, key) -> jax.Array:
        keys = jax.random.split(key, cfg.members)
        logits = jax.vmap(lambda p, k: member_logits(cfg, p, ids, mask, k))(params, keys)
        mse = ((logits - targets[None]) ** 2).mean(axis=2)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels[None, :])
        return (soft * mse + (1 - soft) * ce).mean(axis=1).sum()

    @jax.jit
    def step(params: Params, ema: Params, opt_state: optax.OptState, ids, mask, labels, targets, soft, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, mask, labels, targets, soft, key)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        # An exponential moving average of the weights generalizes better than the last noisy iterate.
        ema = jax.tree.map(lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params)
        return params, ema, opt_state, loss

    return step


def fit(cfg: CnnConfig, seed: int, params: Params, seqs: list[np.ndarray], rows: tuple[np.ndarray, ...],
        pad_id: int, dev_eval, *, epochs: int, batch: int = 64, lr: float = 1e-3, ema_decay: float = 0.999) -> Params:
    """Adam with cosine decay over length-bucketed batches, from `params`; returns the exponential moving average
    of the weights. `rows` are the per-sequence arrays make_distill_step takes after ids and mask: gold labels,
    teacher logits and soft flags."""
    lengths = np.array([len(s) for s in seqs])
    steps_per_epoch = sum(1 for _ in bucket_batches(lengths, batch, 8, np.random.default_rng(0)))
    opt = optax.adam(optax.cosine_decay_schedule(lr, epochs * steps_per_epoch, alpha=0.05))
    opt_state = opt.init(params)
    step = make_distill_step(cfg, opt, ema_decay)
    ema = params
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed + 1)
    for epoch in range(epochs):
        t0, total, n = time.time(), 0.0, 0
        for b in bucket_batches(lengths, batch, 8, rng):
            ids, mask = pad_batch([seqs[i] for i in b], pad_id, length=-(-int(lengths[b].max()) // 8) * 8)
            key, sub = jax.random.split(key)
            params, ema, opt_state, loss = step(params, ema, opt_state, ids, mask, *(r[b] for r in rows), sub)
            total, n = total + float(loss), n + 1
        print(f"  {type(cfg).__name__} epoch {epoch + 1}/{epochs}: loss {total / n / cfg.members:.4f}, "
              f"dev acc {dev_eval(cfg, ema):.4f} (ema), {time.time() - t0:.0f}s", flush=True)
    return ema
