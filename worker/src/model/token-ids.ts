/**
 * Text to token ids with Tokenizers.js, paying for each distinct word once: when the tokenizer is word-local
 * (word-cache-safety.ts), a text is split on ASCII whitespace, each word's ids come from an LRU cache bounded in
 * entries and bytes (lru-cache) or from encoding that word alone, and the post-processor's special tokens wrap
 * their concatenation. The ids are the ones encoding the whole text gives; a tokenizer that is not word-local
 * encodes whole texts, uncached.
 */
import type { Tokenizer } from "@huggingface/tokenizers";
import { LRUCache } from "lru-cache";
import { wordwiseVerdict } from "./word-cache-safety.ts";

export interface TokenIdEncoder {
  /** The ids of `text` with the post-processor's special tokens, untruncated. */
  encode(text: string): number[];
  /** How texts are encoded: per word through the cache, or whole and why. */
  readonly description: string;
}

export interface WordCacheOptions {
  readonly maxEntries: number;
  /** Estimated memory of keys and ids together. */
  readonly maxBytes: number;
  /** Longer words are encoded each time: they rarely repeat, and would push out many that do. */
  readonly maxWordLength: number;
}

/** Enough for a large vocabulary of words in a few MiB per classifier thread. */
export const defaultWordCache: WordCacheOptions = {
  maxEntries: 50_000,
  maxBytes: 8 << 20,
  maxWordLength: 64,
};

const WORD_SEPARATORS = /[ \t\n\r]+/;
/** A Map entry, a string header and an array header, roughly, plus the key's UTF-16 and the ids' doubles. */
const entryBytes = (word: string, ids: readonly number[]) => 96 + 2 * word.length + 8 * ids.length;

export function wholeTextEncoder(tokenizer: Tokenizer, description: string): TokenIdEncoder {
  return { encode: (text) => tokenizer.encode(text).ids, description };
}

export function createTokenIdEncoder(
  tokenizer: Tokenizer,
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  options: WordCacheOptions = defaultWordCache,
): TokenIdEncoder {
  const verdict = wordwiseVerdict(tokenizerJson, tokenizerConfig);
  if (!verdict.ok) return wholeTextEncoder(tokenizer, `whole texts, uncached (${verdict.reason})`);
  const bare = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
  // The wrapping, read off one encoding: the template's special tokens before the text and after it.
  const probe = "a";
  const wrapped: number[] = tokenizer.encode(probe).ids;
  const inner = bare(probe);
  const prefix = wrapped.slice(0, verdict.specialsBefore);
  const suffix = wrapped.slice(verdict.specialsBefore + inner.length);
  const middle = wrapped.slice(verdict.specialsBefore, verdict.specialsBefore + inner.length);
  if (middle.length !== inner.length || middle.some((id, i) => id !== inner[i])) {
    return wholeTextEncoder(
      tokenizer,
      "whole texts, uncached (the post-processor does more than wrap the text)",
    );
  }
  const cache = new LRUCache<string, readonly number[]>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    sizeCalculation: (ids, word) => entryBytes(word, ids),
  });
  const wordIds = (word: string): readonly number[] => {
    if (word.length > options.maxWordLength) return bare(word);
    let ids = cache.get(word);
    if (ids === undefined) {
      ids = bare(word);
      cache.set(word, ids);
    }
    return ids;
  };
  return {
    encode(text) {
      const ids = [...prefix];
      for (const word of text.split(WORD_SEPARATORS)) {
        if (word !== "") for (const id of wordIds(word)) ids.push(id);
      }
      for (const id of suffix) ids.push(id);
      return ids;
    },
    description: `per word, cached (up to ${options.maxEntries} words in ${options.maxBytes >> 20} MiB)`,
  };
}
