"""Bidirectional GRU sentence classifier in JAX whose equations are exactly ONNX's GRU operator
(gate order z, r, h; linear_before_reset=0), so the export is the built-in GRU node with sequence_lens."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

Params = dict[str, jax.Array]
# Added to padded positions before the max-pool; GRU outputs lie in (-1, 1), so they can never win.
PAD_PENALTY = 10.0


@dataclass(frozen=True)
class GruConfig:
    vocab_size: int
    dim: int
    hidden: int
    dropout: float
    embed_dropout: float
    members: int  # ensemble members trained side by side (vmap); logits are averaged


def init_member(cfg: GruConfig, key: jax.Array) -> Params:
    k_emb, k_w, k_r, k_out = jax.random.split(key, 4)
    h = cfg.hidden
    scale = 1.0 / np.sqrt(h)
    return {
        "emb": jax.random.uniform(k_emb, (cfg.vocab_size, cfg.dim), minval=-0.25, maxval=0.25),
        # [direction, 3 * hidden, input] as ONNX stores them.
        "W": jax.random.uniform(k_w, (2, 3 * h, cfg.dim), minval=-scale, maxval=scale),
        "R": jax.random.uniform(k_r, (2, 3 * h, h), minval=-scale, maxval=scale),
        "B": jnp.zeros((2, 6 * h)),
        "out_w": jax.random.normal(k_out, (2 * h, 2)) * np.sqrt(1.0 / (2 * h)),
        "out_b": jnp.zeros((2,)),
    }


def init_params(cfg: GruConfig, seed: int) -> Params:
    keys = jax.random.split(jax.random.PRNGKey(seed), cfg.members)
    return jax.vmap(lambda k: init_member(cfg, k))(keys)


def _gru(x: jax.Array, mask: jax.Array, w: jax.Array, r: jax.Array, b: jax.Array) -> jax.Array:
    """One direction over [B, L, D]; returns [B, L, H]. State is held over padding (never used)."""
    h_size = r.shape[1]
    wb, rb = b[: 3 * h_size], b[3 * h_size :]
    xw = x @ w.T + wb  # all input projections at once: [B, L, 3H]
    rz, rr, rh = r[:h_size], r[h_size : 2 * h_size], r[2 * h_size :]

    def cell(h_prev: jax.Array, inputs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        xt, mt = inputs
        xz, xr, xh = xt[:, :h_size], xt[:, h_size : 2 * h_size], xt[:, 2 * h_size :]
        z = jax.nn.sigmoid(xz + h_prev @ rz.T + rb[:h_size])
        rg = jax.nn.sigmoid(xr + h_prev @ rr.T + rb[h_size : 2 * h_size])
        cand = jnp.tanh(xh + (rg * h_prev) @ rh.T + rb[2 * h_size :])
        h_new = (1 - z) * cand + z * h_prev
        h_new = jnp.where(mt[:, None] > 0, h_new, h_prev)
        return h_new, h_new

    h0 = jnp.zeros((x.shape[0], h_size))
    _, ys = jax.lax.scan(cell, h0, (jnp.swapaxes(xw, 0, 1), jnp.swapaxes(mask, 0, 1)))
    return jnp.swapaxes(ys, 0, 1)


def _reverse_within_length(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverses each row's first `length` positions and leaves the padding where it is (an involution)."""
    t = jnp.arange(x.shape[1])[None, :]
    idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return jnp.take_along_axis(x, idx[..., None] if x.ndim == 3 else idx, axis=1)


def pooled_states(p: Params, x: jax.Array, mask: jax.Array) -> jax.Array:
    lengths = mask.sum(axis=1).astype(jnp.int32)
    fwd = _gru(x, mask, p["W"][0], p["R"][0], p["B"][0])
    bwd = _reverse_within_length(_gru(_reverse_within_length(x, lengths), mask, p["W"][1], p["R"][1], p["B"][1]), lengths)
    h = jnp.concatenate([fwd, bwd], axis=-1) * mask[..., None] + (mask[..., None] - 1) * PAD_PENALTY
    return h.max(axis=1)


def member_logits(cfg: GruConfig, p: Params, ids: jax.Array, mask: jax.Array, key: jax.Array | None) -> jax.Array:
    x = p["emb"][ids] * mask[..., None]
    if key is not None:
        k_emb, k_feat = jax.random.split(key)
        # Whole-token dropout: the model must not hinge on any single word (cf. DAN's word dropout).
        keep = jax.random.bernoulli(k_emb, 1 - cfg.embed_dropout, (*x.shape[:2], 1))
        x = x * keep / (1 - cfg.embed_dropout)
    h = pooled_states(p, x, mask)
    if key is not None:
        h = h * jax.random.bernoulli(k_feat, 1 - cfg.dropout, h.shape) / (1 - cfg.dropout)
    return h @ p["out_w"] + p["out_b"]


def ensemble_logits(cfg: GruConfig, params: Params, ids: jax.Array, mask: jax.Array) -> jax.Array:
    return jax.vmap(lambda p: member_logits(cfg, p, ids, mask, None))(params).mean(axis=0)


def make_step(cfg: GruConfig, opt: optax.GradientTransformation, ema_decay: float):
    def loss_fn(params: Params, ids: jax.Array, mask: jax.Array, labels: jax.Array, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, cfg.members)
        logits = jax.vmap(lambda p, k: member_logits(cfg, p, ids, mask, k))(params, keys)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels[None, :]).mean(axis=1).sum()

    @jax.jit
    def step(params: Params, ema: Params, opt_state: optax.OptState, ids, mask, labels, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, mask, labels, key)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        ema = jax.tree.map(lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params)
        return params, ema, opt_state, loss

    return step
