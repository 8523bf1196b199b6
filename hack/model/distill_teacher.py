"""Stage 1 of the distillation: fine-tunes the MiniLM teacher on SST-2 train (one epoch over every phrase) and
writes its logits for the augmented transfer set and for dev to one .npz file that distill_student.py reads.

Usage: distill_teacher.py --data DIR --out FILE.npz
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

import teacher
from sst2 import augment, read_split

MAX_LEN = 64
SEED = 20261
EPOCHS = 1
# The teacher sees every training phrase once and labels only the transfer set (the student learns the
# training phrases from their gold labels, which beat the teacher's logits there).
BATCH = 32
LR = 1e-4
WARMUP = 0.1
BUCKET = 16
AUGMENT = dict(min_words=4, copies=6, p_mask=0.1, p_swap=0.1, p_ngram=0.25, seed=7)


def digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--save-params", type=Path, help="also keep the fine-tuned teacher weights (.npz)")
    args = parser.parse_args()
    started = time.time()
    train, dev = read_split(args.data / "train.tsv"), read_split(args.data / "dev.tsv")
    extra = augment(train.texts, **AUGMENT)
    tok = teacher.load_tokenizer()
    train_seqs = teacher.encode(tok, train.texts, MAX_LEN)
    print(f"teacher: {len(train_seqs)} train phrases, {len(extra)} augmented, "
          f"{sum(len(s) for s in train_seqs)} train tokens", flush=True)
    params = teacher.fine_tune(train_seqs, train.labels, seed=SEED, epochs=EPOCHS, batch=BATCH, lr=LR,
                               warmup=WARMUP, bucket=BUCKET, log=lambda m: print(m, flush=True))
    if args.save_params is not None:
        np.savez(args.save_params, **{k: np.asarray(v) for k, v in params.items()})
    dev_logits = teacher.predict(params, teacher.encode(tok, dev.texts, MAX_LEN), bucket=BUCKET)
    dev_acc = float((dev_logits.argmax(-1) == dev.labels).mean())
    print(f"teacher SST-2 dev accuracy: {dev_acc:.4f} ({time.time() - started:.0f}s so far)", flush=True)
    extra_logits = teacher.predict(params, teacher.encode(tok, extra, MAX_LEN), bucket=BUCKET)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, extra=extra_logits, dev=dev_logits, dev_acc=np.asarray(dev_acc),
             train_digest=np.asarray(digest(train.texts)), extra_digest=np.asarray(digest(extra)))
    print(f"teacher logits -> {args.out} in {time.time() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
