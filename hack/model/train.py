"""Trains KubeSentiment's default model on SST-2 and writes model.onnx + tokenizer/config JSON files.

Usage: train.py --data DIR --out DIR
Deterministic: fixed seeds, single-threaded XLA (set by train.sh), pinned packages.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cnn import CnnConfig, fit, init_params, make_step, predict
from export_onnx import export_trained
from sst2 import PAD, encode, read_split, train_tokenizer

VOCAB_SIZE = 16000
MAX_LEN = 128
EPOCHS = 3

MODELS: list[tuple[CnnConfig, int]] = [
    (CnnConfig(vocab_size=VOCAB_SIZE, dim=64, width=3, filters=128, dropout=0.5, embed_dropout=0.3, members=1), 20260),
]


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
        ema = fit(cfg, seed, init_params(cfg, seed), train_seqs, (train_split.labels,), make_step, pad_id, dev_eval,
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
        vocab_size=VOCAB_SIZE,
    )


if __name__ == "__main__":
    main()
