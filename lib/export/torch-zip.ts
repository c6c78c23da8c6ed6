import { RouterlabError } from "../util/errors";

/**
 * Writes a PyTorch state_dict file (`.pt`, torch's zip format) that `torch.load(weights_only=True)` accepts,
 * without Python (gateway-contract.md §7): STORED zip entries with CRC-32, each record's data aligned to 64 bytes
 * by an `FB` padding extra field, and a protocol-2 `data.pkl` that uses only the opcodes the weights-only
 * unpickler allows (no memo, no frames).
 */

export interface TensorF32 {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Parameters in module order: the order the `.pt` lists them in. */
export type StateDict = ReadonlyArray<readonly [string, TensorF32]>;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- pickle (protocol 2, weights-only-safe opcodes) ----

class PickleWriter {
  private readonly parts: Buffer[] = [];
  op(code: string): void {
    this.parts.push(Buffer.from(code, "latin1"));
  }
  raw(b: Buffer): void {
    this.parts.push(b);
  }
  global(module: string, name: string): void {
    this.op("c");
    this.raw(Buffer.from(`${module}\n${name}\n`, "utf8"));
  }
  unicode(s: string): void {
    const b = Buffer.from(s, "utf8");
    const h = Buffer.alloc(5);
    h.write("X", 0, "latin1");
    h.writeUInt32LE(b.length, 1);
    this.raw(h);
    this.raw(b);
  }
  int(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new RouterlabError(`cannot pickle integer ${n} (must be 0..2^31-1)`);
    }
    if (n < 0x100) this.raw(Buffer.from([0x4b, n]));
    else if (n < 0x10000) {
      const b = Buffer.alloc(3);
      b[0] = 0x4d;
      b.writeUInt16LE(n, 1);
      this.raw(b);
    } else {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(n, 1);
      this.raw(b);
    }
  }
  intTuple(xs: readonly number[]): void {
    if (xs.length === 0) {
      this.op(")");
      return;
    }
    if (xs.length <= 3) {
      for (const x of xs) this.int(x);
      this.raw(Buffer.from([[0x85, 0x86, 0x87][xs.length - 1]!]));
      return;
    }
    this.op("(");
    for (const x of xs) this.int(x);
    this.op("t");
  }
  emptyOrderedDict(): void {
    this.global("collections", "OrderedDict");
    this.op(")");
    this.op("R");
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function rowMajorStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) stride[i] = stride[i + 1]! * shape[i + 1]!;
  return stride;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The `data.pkl` bytes for a state_dict whose storages are named "0", "1", … in order. */
export function stateDictPickle(state: StateDict): Buffer {
  const p = new PickleWriter();
  p.raw(Buffer.from([0x80, 0x02]));
  p.emptyOrderedDict();
  p.op("(");
  state.forEach(([name, t], i) => {
    p.unicode(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op("(");
    // persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
    p.op("(");
    p.unicode("storage");
    p.global("torch", "FloatStorage");
    p.unicode(String(i));
    p.unicode("cpu");
    p.int(numelOf(t.shape));
    p.op("t");
    p.op("Q");
    p.int(0);
    p.intTuple(t.shape);
    p.intTuple(rowMajorStride(t.shape));
    p.raw(Buffer.from([0x89]));
    p.emptyOrderedDict();
    p.op("t");
    p.op("R");
  });
  p.op("u");
  p.op(".");
  return p.bytes();
}

// ---- zip (STORED, 64-byte aligned) ----

interface ZipRecord {
  name: string;
  data: Uint8Array;
}

const DOS_TIME = 0;
const DOS_DATE = 0x21; // 1980-01-01: fixed, so the same weights give the same bytes (and hash)

/**
 * The fields a local header (at 4) and its central directory entry (at 6) share, in the same order: version
 * needed, flags, method STORED, time, date, CRC-32, sizes, name and extra-field lengths.
 */
function writeEntryFields(
  b: Buffer,
  at: number,
  crc: number,
  size: number,
  nameLength: number,
  extraLength: number,
): void {
  b.writeUInt16LE(20, at);
  b.writeUInt16LE(0, at + 2);
  b.writeUInt16LE(0, at + 4);
  b.writeUInt16LE(DOS_TIME, at + 6);
  b.writeUInt16LE(DOS_DATE, at + 8);
  b.writeUInt32LE(crc, at + 10);
  b.writeUInt32LE(size, at + 14);
  b.writeUInt32LE(size, at + 18);
  b.writeUInt16LE(nameLength, at + 22);
  b.writeUInt16LE(extraLength, at + 24);
}

export function storedZip(records: readonly ZipRecord[], align = 64): Buffer {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, "utf8");
    const crc = crc32(r.data);
    const base = offset + 30 + name.length + 4;
    const pad = (align - (base % align)) % align;
    const extra = Buffer.alloc(4 + pad, 0x5a); // 'Z' padding, as torch writes it
    extra.writeUInt16LE(0x4246, 0); // "FB"
    extra.writeUInt16LE(pad, 2);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    writeEntryFields(h, 4, crc, r.data.length, name.length, extra.length);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4); // version made by
    writeEntryFields(c, 6, crc, r.data.length, name.length, 0);
    c.writeUInt16LE(0, 32);
    c.writeUInt16LE(0, 34);
    c.writeUInt16LE(0, 36);
    c.writeUInt32LE(0, 38);
    c.writeUInt32LE(offset, 42);
    central.push(c, name);
    out.push(h, name, extra, Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
    offset += h.length + name.length + extra.length + r.data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  if (offset + cd.length > 0xffffffff)
    throw new RouterlabError("state_dict too large for a zip without ZIP64");
  return Buffer.concat([...out, cd, end]);
}

function littleEndianF32(data: Float32Array): Uint8Array {
  const b = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) b.writeFloatLE(data[i]!, i * 4);
  return b;
}

/** Validates shapes against data lengths and produces the `.pt` bytes. `folder` is the zip's single top folder. */
export function writeTorchStateDict(state: StateDict, folder = "archive"): Buffer {
  const seen = new Set<string>();
  for (const [name, t] of state) {
    if (seen.has(name)) throw new RouterlabError(`duplicate state_dict key '${name}'`);
    seen.add(name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new RouterlabError(`tensor '${name}' has an invalid shape [${t.shape.join(", ")}]`);
    }
    if (numelOf(t.shape) !== t.data.length) {
      throw new RouterlabError(
        `tensor '${name}' has shape [${t.shape.join(", ")}] but ${t.data.length} values (expected ${numelOf(t.shape)})`,
      );
    }
  }
  const records: ZipRecord[] = [{ name: `${folder}/data.pkl`, data: stateDictPickle(state) }];
  records.push({ name: `${folder}/byteorder`, data: Buffer.from("little", "ascii") });
  state.forEach(([, t], i) => records.push({ name: `${folder}/data/${i}`, data: littleEndianF32(t.data) }));
  records.push({ name: `${folder}/version`, data: Buffer.from("3\n", "ascii") });
  return storedZip(records);
}
