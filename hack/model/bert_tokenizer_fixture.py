"""Writes test/fixtures/bert-tokenizer/: a small tokenizer.json laid out as a BERT/DistilBERT uncased export
(BertNormalizer with lowercase and strip_accents, BertPreTokenizer, WordPiece with ## continuation, a
[CLS] $A [SEP] template) and its tokenizer_config.json. No model hub is reachable, so the WordPiece vocabulary is
made here from a few sentences (deterministically: every character, alone and as a ## continuation, the words of
up to 7 characters, and a few pieces, so longer words split into ## pieces); the tests check that the worker's per-word cache gives the ids Tokenizers.js
gives for whole texts with such a tokenizer, not only with the built-in one.

Usage (tokenizers==0.23.3, as pinned in hack/model/requirements.txt):
    python hack/model/bert_tokenizer_fixture.py
"""

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "bert-tokenizer"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CORPUS = [
    "an absolute delight from start to finish",
    "a tedious, joyless mess that wastes its cast",
    "the performances are wonderful and the script is sharp and funny",
    "i wanted my two hours back before the first act was over",
    "a moving, beautifully shot film that stays with you",
    "dull, predictable and far too long; it isn't worth the ticket",
    "Café society, naïve heroes and a résumé of clichés",
    "Über-stylish, déjà vu all over again",
    "电影很好看 这部电影太长了",
    "映画はとても面白かった",
    "영화가 정말 좋았어요",
    "Unbelievably unwatchable, unforgettable and unoriginal",
    "The director's 2nd film (1999) runs 142 minutes!",
    "worst movie ever 👎 best movie ever 👍",
]
PIECES = ["un", "##able", "##ably", "##ly", "##ing", "##ed", "##s", "##ful"]
MAX_WHOLE_WORD = 7


def vocabulary(normalizer: normalizers.Normalizer, pre_tokenizer: pre_tokenizers.PreTokenizer) -> dict[str, int]:
    words = sorted(
        {word for text in CORPUS for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    )
    chars = sorted({char for word in words for char in word})
    tokens = [*SPECIALS, *chars, *(f"##{char}" for char in chars), *PIECES]
    tokens += [word for word in words if 1 < len(word) <= MAX_WHOLE_WORD and word not in tokens]
    return {token: i for i, token in enumerate(tokens)}


def main() -> None:
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=True
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer = Tokenizer(
        models.WordPiece(
            vocab=vocabulary(normalizer, pre_tokenizer),
            unk_token="[UNK]",
            continuing_subword_prefix="##",
            max_input_chars_per_word=100,
        )
    )
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.add_special_tokens(SPECIALS)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(OUT / "tokenizer.json"))
    config = {
        "tokenizer_class": "DistilBertTokenizer",
        "do_lower_case": True,
        "strip_accents": True,
        "model_max_length": 512,
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    (OUT / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main()
