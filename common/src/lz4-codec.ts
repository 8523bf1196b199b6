// LZ4 for kafkajs, which ships without it: the worker writes LZ4, the kubectl plugin and the tests read it.
// Kafka's LZ4 is the standard LZ4 frame format, which the maintained napi-rs binding lz4-napi implements natively.
import kafkajs from "kafkajs";
import { compressFrameSync, decompressFrameSync } from "lz4-napi";

interface Encoder {
  buffer: Buffer;
}

export function registerLz4Codec(): void {
  // kafkajs is CommonJS and these two are not visible to ESM as named exports.
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  // Synchronous on purpose. LZ4 does a produce request's few kilobytes in microseconds (0.3 ms for 512 KiB),
  // while the async variants queue on libuv's thread pool and wait twice for a busy core to come round: on the
  // bench's two shared cores that added up to 190 ms to a write and doubled the worker's p99.
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async (encoder: Encoder) => compressFrameSync(encoder.buffer),
    decompress: async (buffer: Buffer) => decompressFrameSync(buffer),
  });
}
