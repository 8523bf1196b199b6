// LZ4 for kafkajs, which ships without it: Kafka's LZ4 is the standard LZ4 frame format, which the maintained
// napi-rs binding lz4-napi implements natively.
import kafkajs from "kafkajs";
import { compressFrame, decompressFrame } from "lz4-napi";

interface Encoder {
  buffer: Buffer;
}

export function registerLz4Codec(): void {
  // kafkajs is CommonJS and these two are not visible to ESM as named exports.
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: (encoder: Encoder) => compressFrame(encoder.buffer),
    decompress: (buffer: Buffer) => decompressFrame(buffer),
  });
}
