// The word cache's LRU: bounded in entries and in bytes, the least recently used entry goes first.
import { expect } from "chai";
import { LruCache } from "../../../worker/src/model/lru-cache.ts";

const byLength = (key: string, value: string) => key.length + value.length;

describe("LruCache", () => {
  it("evicts the least recently used entry beyond maxEntries", () => {
    const cache = new LruCache<string, string>({ maxEntries: 2, maxBytes: 1_000 }, byLength);
    cache.set("a", "1");
    cache.set("b", "2");
    expect(cache.get("a")).to.equal("1"); // now b is the least recently used
    cache.set("c", "3");
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).to.deep.equal(["1", undefined, "3"]);
    expect(cache.size).to.equal(2);
  });

  it("evicts until the estimated bytes fit maxBytes", () => {
    const cache = new LruCache<string, string>({ maxEntries: 100, maxBytes: 10 }, byLength);
    cache.set("a", "1234"); // 5
    cache.set("b", "1234"); // 10
    cache.set("c", "12"); // 13: a goes
    expect(cache.get("a")).to.equal(undefined);
    expect(cache.bytes).to.equal(8);
    cache.set("d", "123456789"); // 18: b and c go
    expect([cache.size, cache.bytes]).to.deep.equal([1, 10]);
  });

  it("does not store an entry larger than the whole budget, and replaces a key's entry", () => {
    const cache = new LruCache<string, string>({ maxEntries: 100, maxBytes: 10 }, byLength);
    cache.set("a", "1");
    cache.set("big", "123456789");
    expect(cache.get("big")).to.equal(undefined);
    cache.set("a", "123");
    expect([cache.get("a"), cache.size, cache.bytes]).to.deep.equal(["123", 1, 4]);
  });

  it("rejects limits that are not positive integers, naming the field", () => {
    expect(() => new LruCache({ maxEntries: 0, maxBytes: 10 }, byLength)).to.throw(RangeError, /maxEntries/);
    expect(() => new LruCache({ maxEntries: 1, maxBytes: 1.5 }, byLength)).to.throw(RangeError, /maxBytes/);
  });
});
