"""SST-2 loading and the WordPiece tokenizer the worker ships with."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

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


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Lowercase BERT-style WordPiece with a DistilBERT-like [CLS] $A [SEP] template."""
    tok = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix="##"))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True),
            # SST-2 is pre-tokenized ("does n't", "ca n't"); raw text says "doesn't". Splitting "n't" off
            # maps both spellings to the same tokens, so the model sees user text the way it was trained.
            normalizers.Replace(Regex("n't"), " n't"),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id(CLS), tok.token_to_id(SEP)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


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
