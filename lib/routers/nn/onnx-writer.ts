/**
 * A minimal ONNX model writer (ModelProto protobuf encoding, onnx.proto3 field numbers) for graphs routerlab builds
 * at run time, e.g. the MLP training step (mlp-ort.ts) whose shape depends on the router's layers. Only what those
 * graphs need: float32 inputs/outputs with symbolic or fixed dimensions, int64/float initializers, int/float/ints
 * attributes. No protobuf package is installed; the encoding is a few dozen lines.
 */

const utf8 = new TextEncoder();

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private varint(v: bigint | number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A dimension: a number is fixed, a string is symbolic (e.g. the batch "N"). */
export type Dim = number | string;

export type Attribute = number | { float: number } | { ints: readonly number[] };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, Attribute>>;
}

export interface Initializer {
  name: string;
  dims: readonly number[];
  /** float32 values or int64 values. */
  data: Float32Array | BigInt64Array;
}

export interface OnnxGraph {
  name: string;
  inputs: readonly { name: string; shape: readonly Dim[] }[];
  outputs: readonly { name: string; shape: readonly Dim[] }[];
  initializers?: readonly Initializer[];
  nodes: readonly OnnxNode[];
}

const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function valueInfo(name: string, shape: readonly Dim[]): Writer {
  const s = new Writer();
  for (const d of shape)
    s.message(1, typeof d === "number" ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensor = new Writer().int(1, FLOAT).message(2, s);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensor));
}

function attribute(name: string, a: Attribute): Writer {
  const w = new Writer().string(1, name);
  if (typeof a === "number") return w.int(3, a).int(20, ATTR_INT);
  if ("float" in a) return w.float(2, a.float).int(20, ATTR_FLOAT);
  for (const v of a.ints) w.int(8, v);
  return w.int(20, ATTR_INTS);
}

function tensor(t: Initializer): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? FLOAT : INT64);
  w.string(8, t.name);
  // raw_data is little-endian, like the typed arrays on every platform onnxruntime-node ships for
  return w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

/** The ModelProto bytes of `g` (IR version 8, default domain opset 17), ready for `InferenceSession.create`. */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const node = new Writer();
    for (const x of n.inputs) node.string(1, x);
    for (const x of n.outputs) node.string(2, x);
    node.string(3, `${n.op.toLowerCase()}_${i}`).string(4, n.op);
    for (const [k, a] of Object.entries(n.attributes ?? {})) node.message(5, attribute(k, a));
    graph.message(1, node);
  });
  graph.string(2, g.name);
  for (const t of g.initializers ?? []) graph.message(5, tensor(t));
  for (const v of g.inputs) graph.message(11, valueInfo(v.name, v.shape));
  for (const v of g.outputs) graph.message(12, valueInfo(v.name, v.shape));
  return new Writer()
    .int(1, 8)
    .string(2, "routerlab")
    .message(7, graph)
    .message(8, new Writer().string(1, "").int(2, 17))
    .finish();
}
