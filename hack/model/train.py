"""Trains KubeSentiment's default model on SST-2 and writes model.onnx + tokenizer/config JSON files.

Usage: train.py --data DIR --out DIR
Deterministic: fixed seeds, single-threaded XLA (set by train.sh), pinned packages.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np
import optax

from cnn import CnnConfig, bucket_batches, ensemble_logits, init_params, make_step
from export_onnx import build_model, check_parity_and_report, write_model_files
from sst2 import PAD, encode, pad_batch, read_split, train_tokenizer

VOCAB_SIZE = 16000
MAX_LEN = 128
BATCH = 64
EPOCHS = 3
EMA_DECAY = 0.999
LR = 1e-3
NAME = "kubesentiment-sst2-cnn"
LABELS = ("negative", "positive")

MODELS: list[tuple[CnnConfig, int]] = [
    (CnnConfig(vocab_size=VOCAB_SIZE, dim=64, width=3, filters=128, dropout=0.5, embed_dropout=0.3, members=1), 20260),
]


def predict(cfg: CnnConfig, params, seqs: list[np.ndarray], pad_id: int) -> np.ndarray:
    fwd = jax.jit(lambda p, i, m: ensemble_logits(cfg, p, i, m))
    out = []
    for i in range(0, len(seqs), 128):
        ids, mask = pad_batch(seqs[i : i + 128], pad_id)
        out.append(np.asarray(fwd(params, ids, mask)))
    return np.concatenate(out)


def train(cfg: CnnConfig, seed: int, seqs: list[np.ndarray], labels: np.ndarray, pad_id: int, dev_eval):
    """Adam with cosine decay; returns the exponential moving average of the weights."""
    params = init_params(cfg, seed)
    lengths = np.array([len(s) for s in seqs])
    steps_per_epoch = sum(1 for _ in bucket_batches(lengths, BATCH, 8, np.random.default_rng(0)))
    opt = optax.adam(optax.cosine_decay_schedule(LR, EPOCHS * steps_per_epoch, alpha=0.05))
    opt_state = opt.init(params)
    step = make_step(cfg, opt, EMA_DECAY)
    ema = params
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed + 1)
    for epoch in range(EPOCHS):
        t0, total, n = time.time(), 0.0, 0
        for batch in bucket_batches(lengths, BATCH, 8, rng):
            ids, mask = pad_batch([seqs[i] for i in batch], pad_id, length=-(-int(lengths[batch].max()) // 8) * 8)
            key, sub = jax.random.split(key)
            params, ema, opt_state, loss = step(params, ema, opt_state, ids, mask, labels[batch], sub)
            total, n = total + float(loss), n + 1
        print(f"  {type(cfg).__name__} epoch {epoch + 1}/{EPOCHS}: loss {total / n / cfg.members:.4f}, "
              f"dev acc {dev_eval(cfg, ema):.4f} (ema), {time.time() - t0:.0f}s", flush=True)
    return ema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    started = time.time()
    train_split, dev_split = read_split(args.data / "train.tsv"), read_split(args.data / "dev.tsv")
    tok = train_tokenizer(train_split.texts, VOCAB_SIZE)
    assert tok.get_vocab_size() <= VOCAB_SIZE
    pad_id = tok.token_to_id(PAD)
    train_seqs = encode(tok, train_split.texts, MAX_LEN)
    dev_seqs = encode(tok, dev_split.texts, MAX_LEN)
    print(f"{len(train_seqs)} train phrases, {len(dev_seqs)} dev sentences, vocab {tok.get_vocab_size()}", flush=True)

    def dev_eval(cfg: CnnConfig, params) -> float:
        return float((predict(cfg, params, dev_seqs, pad_id).argmax(-1) == dev_split.labels).mean())

    trained = []
    for cfg, seed in MODELS:
        print(f"training {type(cfg).__name__} (seed {seed})", flush=True)
        trained.append((cfg, train(cfg, seed, train_seqs, train_split.labels, pad_id, dev_eval)))
    # Every vmap member counts once, as in the exported graph's average.
    ref_logits = sum(cfg.members * predict(cfg, params, dev_seqs, pad_id) for cfg, params in trained)
    ref_logits = ref_logits / sum(cfg.members for cfg, _ in trained)
    dev_acc = float((ref_logits.argmax(-1) == dev_split.labels).mean())

    model = build_model([(cfg, {k: np.asarray(v) for k, v in params.items()}) for cfg, params in trained])
    write_model_files(
        args.out,
        tok,
        model,
        name=NAME,
        labels=LABELS,
        max_len=MAX_LEN,
        ensemble=MODELS,
        vocab_size=VOCAB_SIZE,
        extra={"sst2_dev_accuracy": round(dev_acc, 4)},
    )

    check_parity_and_report(args.out, dev_seqs, pad_id, ref_logits, dev_acc, started)


if __name__ == "__main__":
    main()
