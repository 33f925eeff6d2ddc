import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

/**
 * A writer for GGUF version 3, the file format llama.cpp loads. Layout, all little-endian:
 * magic `GGUF`, version, tensor count (u64), metadata count (u64); the metadata as key
 * (string) + value type (u32) + value; one description per tensor (name, dimension count,
 * dimensions innermost first, ggml type, offset into the data section); zero padding to the
 * alignment; then each tensor's data, every one starting at a multiple of the alignment.
 * A string is its byte length (u64) and its UTF-8 bytes; an array is its item type (u32),
 * its length (u64) and its items.
 */

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
/** `general.alignment` when the file does not set it; llama.cpp assumes the same. */
export const DEFAULT_ALIGNMENT = 32;

/** The value types of GGUF metadata and their type ids. */
const VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE, "array">;
type Scalar = number | bigint | boolean | string;

export type GgufValue =
  | { type: GgufScalarType; value: Scalar }
  | { type: "array"; of: GgufScalarType; values: readonly Scalar[] };

/** Helpers that say a metadata value's GGUF type where it is written. */
export const gguf = {
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  string: (value: string): GgufValue => ({ type: "string", value }),
  array: (of: GgufScalarType, values: readonly Scalar[]): GgufValue => ({ type: "array", of, values }),
};

/** The ggml tensor types this writer produces (F32 only: generated weights need no compression). */
const TENSOR_TYPE = { F32: 0 } as const;
export type GgufTensorType = keyof typeof TENSOR_TYPE;

export interface GgufTensor {
  name: string;
  /** ggml order: the innermost (contiguous) dimension first, e.g. `[n_embd, n_vocab]` for token embeddings. */
  shape: readonly number[];
  type: GgufTensorType;
  /** The values in row-major order of the reversed shape; produced when written, so a large file is never whole in memory. */
  data: () => Float32Array;
}

/** Little-endian bytes appended to a growing buffer. */
class ByteSink {
  private buffer = Buffer.alloc(64 * 1024);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const next = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value, this.length);
    this.length += 4;
  }

  u64(value: number | bigint): void {
    this.reserve(8);
    this.buffer.writeBigUInt64LE(BigInt(value), this.length);
    this.length += 8;
  }

  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.bytes(bytes);
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  scalar(type: GgufScalarType, value: Scalar): void {
    if (type === "string") {
      if (typeof value !== "string") throw new TypeError(`expected a string, got ${typeof value}`);
      this.string(value);
      return;
    }
    const size = SCALAR_SIZE[type];
    this.reserve(size);
    const b = this.buffer;
    const at = this.length;
    switch (type) {
      case "u8":
        b.writeUInt8(Number(value), at);
        break;
      case "i8":
        b.writeInt8(Number(value), at);
        break;
      case "u16":
        b.writeUInt16LE(Number(value), at);
        break;
      case "i16":
        b.writeInt16LE(Number(value), at);
        break;
      case "u32":
        b.writeUInt32LE(Number(value), at);
        break;
      case "i32":
        b.writeInt32LE(Number(value), at);
        break;
      case "f32":
        b.writeFloatLE(Number(value), at);
        break;
      case "bool":
        b.writeUInt8(value ? 1 : 0, at);
        break;
      case "u64":
        b.writeBigUInt64LE(BigInt(value), at);
        break;
      case "i64":
        b.writeBigInt64LE(BigInt(value), at);
        break;
      case "f64":
        b.writeDoubleLE(Number(value), at);
        break;
    }
    this.length += size;
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buffer.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

const SCALAR_SIZE: Record<Exclude<GgufScalarType, "string">, number> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Bytes of a tensor's data. */
export function tensorBytes(tensor: Pick<GgufTensor, "shape" | "type">): number {
  return elementCount(tensor.shape) * 4;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function tensorData(tensor: GgufTensor): Uint8Array {
  const values = tensor.data();
  if (values.length !== elementCount(tensor.shape)) {
    throw new Error(`tensor ${tensor.name}: ${values.length} values for shape [${tensor.shape.join(", ")}]`);
  }
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** The header, metadata and tensor descriptions, padded so the data section starts aligned. */
export function encodeGgufHeader(
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: readonly GgufTensor[],
  alignment = DEFAULT_ALIGNMENT,
): Buffer {
  const sink = new ByteSink();
  sink.u32(MAGIC);
  sink.u32(VERSION);
  sink.u64(tensors.length);
  sink.u64(metadata.length);
  for (const [key, value] of metadata) {
    sink.string(key);
    sink.u32(VALUE_TYPE[value.type]);
    if (value.type === "array") {
      sink.u32(VALUE_TYPE[value.of]);
      sink.u64(value.values.length);
      for (const item of value.values) sink.scalar(value.of, item);
    } else {
      sink.scalar(value.type, value.value);
    }
  }
  let offset = 0;
  for (const tensor of tensors) {
    sink.string(tensor.name);
    sink.u32(tensor.shape.length);
    for (const dimension of tensor.shape) sink.u64(dimension);
    sink.u32(TENSOR_TYPE[tensor.type]);
    sink.u64(offset);
    offset = alignUp(offset + tensorBytes(tensor), alignment);
  }
  sink.padTo(alignment);
  return sink.toBuffer();
}

/**
 * Write a GGUF file. It is written beside `path` and renamed into place, so a reader (or a
 * second writer racing for the same cache entry) never sees half a file.
 */
export function writeGguf(
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufValue]>,
  tensors: readonly GgufTensor[],
  alignment = DEFAULT_ALIGNMENT,
): void {
  const alignmentKey = metadata.find(([key]) => key === "general.alignment");
  if (alignmentKey && alignmentKey[1].type !== "array" && Number(alignmentKey[1].value) !== alignment) {
    throw new Error("general.alignment in the metadata differs from the alignment passed to writeGguf");
  }
  const temporary = `${path}.${process.pid}.${Date.now()}.partial`;
  const fd = openSync(temporary, "wx");
  try {
    let written = 0;
    const write = (bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      written += bytes.length;
    };
    const header = encodeGgufHeader(metadata, tensors, alignment);
    write(header);
    const dataStart = written;
    for (const tensor of tensors) {
      const padding = alignUp(written - dataStart, alignment) - (written - dataStart);
      if (padding > 0) write(new Uint8Array(padding));
      write(tensorData(tensor));
    }
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    throw error;
  }
}
