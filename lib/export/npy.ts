/**
 * NumPy `.npy` format version 1.0 for 1-D float arrays (what `np.save` writes and `np.load(allow_pickle=False)` reads):
 * magic `\x93NUMPY`, version 1.0, a little-endian uint16 header length, an ASCII dict header padded with spaces and
 * ending in `\n` so that the data starts on a 64-byte boundary, then the raw little-endian values. No pickle.
 */
import { RouterlabError } from "../util/errors";

export type NpyDtype = "<f4" | "<f8";

export function npyBytes(values: ArrayLike<number>, dtype: NpyDtype = "<f8"): Buffer {
  const n = values.length;
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(values[i]!)) throw new RouterlabError(`npy: value ${i} is not finite`);
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${n},), }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const header = dict + " ".repeat(total - preamble - dict.length - 1) + "\n";
  const width = dtype === "<f8" ? 8 : 4;
  const out = Buffer.alloc(total + n * width);
  out.write("\x93NUMPY", 0, "latin1");
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, preamble, "latin1");
  for (let i = 0; i < n; i++) {
    if (width === 8) out.writeDoubleLE(values[i]!, total + i * 8);
    else out.writeFloatLE(values[i]!, total + i * 4);
  }
  return out;
}

/** Reads a 1-D `<f4`/`<f8` `.npy` written as above (used to re-score an artifact before publishing). */
export function readNpy(bytes: Buffer, file = "npy file"): Float64Array {
  if (bytes.length < 10 || bytes.toString("latin1", 0, 6) !== "\x93NUMPY")
    throw new RouterlabError("not a .npy file (bad magic)", { file });
  if (bytes[6] !== 1) throw new RouterlabError(`unsupported .npy version ${bytes[6]}.${bytes[7]}`, { file });
  const hlen = bytes.readUInt16LE(8);
  if (10 + hlen > bytes.length) throw new RouterlabError("truncated .npy header", { file });
  const header = bytes.toString("latin1", 10, 10 + hlen);
  const m = /^\{'descr': '(<f[48])', 'fortran_order': False, 'shape': \((\d+),\), \}\s*\n$/.exec(header);
  if (!m) throw new RouterlabError(`unsupported .npy header ${JSON.stringify(header.trim())}`, { file });
  const width = m[1] === "<f8" ? 8 : 4;
  const n = Number(m[2]);
  const start = 10 + hlen;
  if (bytes.length !== start + n * width)
    throw new RouterlabError(`.npy holds ${bytes.length - start} data bytes, expected ${n * width}`, {
      file,
    });
  return Float64Array.from({ length: n }, (_, i) =>
    width === 8 ? bytes.readDoubleLE(start + i * 8) : bytes.readFloatLE(start + i * 4),
  );
}
