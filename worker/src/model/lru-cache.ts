/**
 * A least-recently-used cache bounded both in entries and in (estimated) bytes: a Map keeps insertion order, so
 * a hit is moved to the end and eviction takes from the front.
 */
export interface LruLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private totalBytes = 0;

  constructor(
    private readonly limits: LruLimits,
    /** The estimated memory one entry holds, key and value together. */
    private readonly sizeOf: (key: K, value: V) => number,
  ) {
    for (const [field, limit] of Object.entries(limits)) {
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RangeError(`${field} must be a positive integer, got ${limit}`);
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value`, evicting the least recently used entries beyond the limits; an entry larger than the
   * whole byte budget is not stored. */
  set(key: K, value: V): void {
    const bytes = this.sizeOf(key, value);
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.totalBytes -= previous.bytes;
    }
    if (bytes > this.limits.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) break;
      this.entries.delete(oldest);
      this.totalBytes -= entry.bytes;
    }
  }
}
