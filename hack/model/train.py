"""Trains KubeSentiment's default model on SST-2 and writes model.onnx + tokenizer/config JSON files.

Usage: train.py --data DIR --out DIR
Deterministic: fixed seeds, single-threaded XLA (set by train.sh), pinned packages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import jax
import numpy as np
import onnx
import onnxruntime as ort
import optax

from cnn import CnnConfig, bucket_batches, ensemble_logits, init_params, make_step
from export_onnx import build_model
from sst2 import CLS, MASK, PAD, SEP, UNK, encode, pad_batch, read_split, train_tokenizer

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


def write_files(out: Path, tok, model: onnx.ModelProto, dev_acc: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out / "model.onnx")
    tok.save(str(out / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "model_max_length": MAX_LEN,
        "pad_token": PAD,
        "unk_token": UNK,
        "cls_token": CLS,
        "sep_token": SEP,
        "mask_token": MASK,
        "clean_up_tokenization_spaces": False,
    }
    # The version is a digest of the weights: it changes exactly when the model does.
    version = "sha256-" + hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()[:12]
    config = {
        "name": NAME,
        "version": version,
        "model_type": "kubesentiment-cnn",
        "architectures": ["CnnEnsembleForSequenceClassification"],
        "id2label": {str(i): label for i, label in enumerate(LABELS)},
        "label2id": {label: i for i, label in enumerate(LABELS)},
        "pad_token_id": tok.token_to_id(PAD),
        "vocab_size": VOCAB_SIZE,
        "ensemble": [{**asdict(cfg), "seed": seed} for cfg, seed in MODELS],
        "max_position_embeddings": MAX_LEN,
        "sst2_dev_accuracy": round(dev_acc, 4),
    }
    for name, obj in (("tokenizer_config.json", tokenizer_config), ("config.json", config)):
        (out / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


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
    write_files(args.out, tok, model, dev_acc)

    # Parity: the exported graph must reproduce the training framework's logits on dev.
    session = ort.InferenceSession(str(args.out / "model.onnx"), providers=["CPUExecutionProvider"])
    onnx_logits = []
    for i in range(0, len(dev_seqs), 64):
        ids, mask = pad_batch(dev_seqs[i : i + 64], pad_id)
        feed = {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
        onnx_logits.append(session.run(["logits"], feed)[0])
    diff = float(np.abs(np.concatenate(onnx_logits) - ref_logits).max())
    if diff > 1e-3:
        raise SystemExit(f"ONNX parity failed: max |logit diff| {diff:.2e}")
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    print(f"onnx parity: max |logit diff| {diff:.2e}")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.time() - started:.0f}s")
    print(f"SST-2 dev accuracy: {dev_acc:.4f} ({int(round(dev_acc * len(dev_seqs)))}/{len(dev_seqs)})")


if __name__ == "__main__":
    main()
