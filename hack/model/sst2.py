"""SST-2 loading, the transfer-set augmentation and the pruned WordPiece tokenizer the worker ships with."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: np.ndarray


def read_split(path: Path) -> Split:
    """Reads a GLUE SST-2 TSV (header `sentence<TAB>label`)."""
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as f:
        # SST-2 text contains bare quotes; QUOTE_NONE keeps them verbatim.
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            texts.append(row["sentence"].strip())
            labels.append(int(row["label"]))
    return Split(texts, np.asarray(labels, dtype=np.int32))


def pruned_tokenizer(spec: dict, texts: list[str]) -> Tokenizer:
    """The teacher's WordPiece restricted to the pieces that `texts` use, plus every single character (so unseen
    words still split into pieces rather than [UNK]) and the special tokens. Ids follow the teacher's order, so the
    result depends only on the texts: no trainer, no tie-breaking."""
    spec = json.loads(json.dumps(spec))
    full = Tokenizer.from_str(json.dumps(spec))
    used = {i for enc in full.encode_batch(texts) for i in enc.ids}
    vocab: dict[str, int] = spec["model"]["vocab"]
    keep = sorted(
        i
        for token, i in vocab.items()
        if i in used or token in SPECIAL_TOKENS or len(token) == 1 or (token.startswith("##") and len(token) == 3)
    )
    by_id = {i: token for token, i in vocab.items()}
    new_id = {old: new for new, old in enumerate(keep)}
    spec["model"]["vocab"] = {by_id[old]: new for old, new in new_id.items()}
    for added in spec["added_tokens"]:
        added["id"] = new_id[added["id"]]
    for special in spec["post_processor"]["special_tokens"].values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return Tokenizer.from_str(json.dumps(spec))


def encode(tok: Tokenizer, texts: list[str], max_len: int) -> list[np.ndarray]:
    """Token ids per text, truncated to max_len while keeping the final [SEP] (as the worker does)."""
    sep_id = tok.token_to_id(SEP)
    out: list[np.ndarray] = []
    for enc in tok.encode_batch(texts):
        ids = enc.ids
        if len(ids) > max_len:
            ids = [*ids[: max_len - 1], sep_id]
        out.append(np.asarray(ids, dtype=np.int32))
    return out


def pad_batch(seqs: list[np.ndarray], pad_id: int, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pads to `length` (default: the longest row); returns (ids, mask)."""
    width = length if length is not None else max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int32)
    mask = np.zeros((len(seqs), width), dtype=np.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    return ids, mask


def augment(texts: list[str], *, min_words: int, copies: int, p_mask: float, p_swap: float, p_ngram: float,
            seed: int) -> list[str]:
    """Transfer sentences for distillation (Tang et al. 2019): from each phrase of at least `min_words` words,
    `copies` variants in which each word is replaced by [MASK] with p_mask or by a random training word (drawn by
    frequency) with p_swap, and which are cut to a random n-gram (3..10 words) with p_ngram. The teacher labels
    them; the student learns from its logits what masked or swapped words contribute. Deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for text in texts:
        for w in text.split():
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts)
    freq = np.asarray([counts[w] for w in words], dtype=np.float64)
    freq /= freq.sum()
    out: list[str] = []
    for text in texts:
        tokens = text.split()
        if len(tokens) < min_words:
            continue
        for _ in range(copies):
            u = rng.random(len(tokens))
            swaps = rng.choice(len(words), size=len(tokens), p=freq)
            new = [MASK if r < p_mask else words[s] if r < p_mask + p_swap else w for w, r, s in zip(tokens, u, swaps)]
            if rng.random() < p_ngram:
                n = int(rng.integers(3, min(10, len(new)) + 1))
                start = int(rng.integers(0, len(new) - n + 1))
                new = new[start : start + n]
            out.append(" ".join(new))
    return out
