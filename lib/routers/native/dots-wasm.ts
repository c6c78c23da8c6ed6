/**
 * A hand-assembled WebAssembly SIMD kernel for single-query KNN search: `dots(q, base, n, dimBytes, out)` writes
 * `out[r] = Σ_d q[d] · base[r·dim + d]` (float32, four f32x4 accumulators, 16 floats per iteration; dim must be a
 * multiple of 16). Scalar JS reads each Float32Array element separately; this does 4 lanes per instruction, and a
 * call costs tens of nanoseconds, where an onnxruntime call costs tens of microseconds.
 *
 * The module (~170 bytes) is emitted below rather than shipped as a binary, so it can be read:
 *   (func (export "dots") (param $q $base $n $dimBytes $out i32)
 *     (local $r $d i32) (local $a0 $a1 $a2 $a3 v128)
 *     block loop                                   ;; rows
 *       r >= n -> br 1
 *       a0..a3 = 0; d = 0
 *       loop                                       ;; 16 floats per iteration
 *         a_j += load(q + d + 16j) * load(base + d + 16j)   (j = 0..3)
 *         d += 64; d < dimBytes -> br 0
 *       end
 *       out[r] = sum of the 16 lanes of a0 + a1 + a2 + a3
 *       base += dimBytes; r += 1; br 0
 *     end end)
 * plus an exported, growable memory "mem".
 */

const enum Op {
  block = 0x02,
  loop = 0x03,
  end = 0x0b,
  br = 0x0c,
  brIf = 0x0d,
  localGet = 0x20,
  localSet = 0x21,
  localTee = 0x22,
  f32Store = 0x38,
  i32Const = 0x41,
  i32LtU = 0x49,
  i32GeU = 0x4f,
  i32Add = 0x6a,
  i32Shl = 0x74,
  f32Add = 0x92,
  simd = 0xfd,
}
const VOID = 0x40;
const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 for small non-negative constants (< 64 fit in one byte). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const v128Load = (offset: number): number[] => [Op.simd, ...uleb(0x00), 0x00, ...uleb(offset)];
const v128Zero = (): number[] => [Op.simd, ...uleb(0x0c), ...new Array<number>(16).fill(0)];
const f32x4Add = (): number[] => [Op.simd, ...uleb(0xe4)];
const f32x4Mul = (): number[] => [Op.simd, ...uleb(0xe6)];
const f32x4Lane = (lane: number): number[] => [Op.simd, ...uleb(0x1f), lane];

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function dotsBody(): number[] {
  // params: 0 q, 1 base, 2 n, 3 dimBytes, 4 out; locals: 5 r, 6 d, 7..10 accumulators
  const [q, base, n, dimBytes, out, r, d] = [0, 1, 2, 3, 4, 5, 6];
  const acc = [7, 8, 9, 10];
  const code: number[] = [Op.block, VOID, Op.loop, VOID];
  code.push(Op.localGet, r, Op.localGet, n, Op.i32GeU, Op.brIf, 1);
  for (const a of acc) code.push(...v128Zero(), Op.localSet, a);
  code.push(Op.i32Const, ...sleb(0), Op.localSet, d);
  code.push(Op.loop, VOID);
  acc.forEach((a, j) => {
    code.push(Op.localGet, a);
    code.push(Op.localGet, q, Op.localGet, d, Op.i32Add, ...v128Load(16 * j));
    code.push(Op.localGet, base, Op.localGet, d, Op.i32Add, ...v128Load(16 * j));
    code.push(...f32x4Mul(), ...f32x4Add(), Op.localSet, a);
  });
  code.push(Op.localGet, d, Op.i32Const, ...sleb(64), Op.i32Add, Op.localTee, d);
  code.push(Op.localGet, dimBytes, Op.i32LtU, Op.brIf, 0, Op.end);
  // a0 = (a0 + a1) + (a2 + a3), then the four lanes
  code.push(Op.localGet, acc[0]!, Op.localGet, acc[1]!, ...f32x4Add());
  code.push(Op.localGet, acc[2]!, Op.localGet, acc[3]!, ...f32x4Add(), ...f32x4Add(), Op.localSet, acc[0]!);
  code.push(Op.localGet, out, Op.localGet, r, Op.i32Const, ...sleb(2), Op.i32Shl, Op.i32Add);
  code.push(Op.localGet, acc[0]!, ...f32x4Lane(0), Op.localGet, acc[0]!, ...f32x4Lane(1), Op.f32Add);
  code.push(
    Op.localGet,
    acc[0]!,
    ...f32x4Lane(2),
    Op.f32Add,
    Op.localGet,
    acc[0]!,
    ...f32x4Lane(3),
    Op.f32Add,
  );
  code.push(Op.f32Store, 0x02, 0x00);
  code.push(Op.localGet, base, Op.localGet, dimBytes, Op.i32Add, Op.localSet, base);
  code.push(Op.localGet, r, Op.i32Const, ...sleb(1), Op.i32Add, Op.localSet, r);
  code.push(Op.br, 0, Op.end, Op.end, Op.end);
  const locals = [2, ...uleb(2), I32, ...uleb(4), V128];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array {
  const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "utf8")];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [2, ...name("mem"), 0x02, 0, ...name("dots"), 0x00, 0]),
    ...section(10, [1, ...dotsBody()]),
  ];
  return Uint8Array.from(bytes);
}

/** The slice of the WebAssembly JS API used here (the project's TypeScript lib has no DOM/WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/** The compiled module, or null when this runtime has no WebAssembly SIMD (callers then use scalar JS). */
function dotsModule(): object | null {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    compiled = wasm && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

/** One instance with its own memory: float32 regions allocated once (`alloc`), then `dots` on them. */
export class DotsKernel {
  private readonly memory: WasmMemory;
  private readonly fn: (q: number, base: number, n: number, dimBytes: number, out: number) => void;
  private top = 0;

  private constructor(instance: WasmInstance) {
    this.memory = instance.exports.mem as WasmMemory;
    this.fn = instance.exports.dots as DotsKernel["fn"];
  }

  /** A kernel with room for `floats` float32 values, or null without WebAssembly SIMD. */
  static create(floats: number): DotsKernel | null {
    const mod = dotsModule();
    if (!mod || !wasm) return null;
    const k = new DotsKernel(new wasm.Instance(mod, {}));
    const need = Math.ceil((floats * 4 + 64) / 65536);
    const have = k.memory.buffer.byteLength / 65536;
    if (need > have) k.memory.grow(need - have);
    return k;
  }

  /** A float32 view of `n` fresh values (16-byte aligned); valid for the kernel's lifetime (memory never grows after create). */
  alloc(n: number): Float32Array {
    const view = new Float32Array(this.memory.buffer, this.top, n);
    this.top += Math.ceil((n * 4) / 16) * 16;
    if (this.top > this.memory.buffer.byteLength) throw new RangeError("DotsKernel: out of reserved memory");
    return view;
  }

  /** out[r] = q · base[r] for `n` rows of `dim` floats (dim % 16 === 0); all three are views from `alloc`. */
  dots(
    q: Float32Array,
    base: Float32Array,
    baseRow: number,
    n: number,
    dim: number,
    out: Float32Array,
  ): void {
    this.fn(q.byteOffset, base.byteOffset + baseRow * dim * 4, n, dim * 4, out.byteOffset);
  }
}
