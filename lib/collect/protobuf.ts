/**
 * A small, bounded decoder for the OTLP trace messages routerlab needs (opentelemetry-proto
 * `collector/trace/v1/trace_service.proto` and `trace/v1/trace.proto`), and the two tiny replies it
 * sends. No protobuf package is installed; only these messages and fields are read, every other
 * field is skipped by its wire type. Bounds: nesting of AnyValue, total spans, total attributes.
 */
import type { WireAnyValue, WireSpan } from "./wire";

export class ProtoError extends Error {}

export interface ProtoLimits {
  /** Nesting of AnyValue arrays/kvlists. */
  maxValueDepth: number;
  maxSpans: number;
  /** Attributes over all spans, events and nested values. */
  maxAttributes: number;
}

export const DEFAULT_PROTO_LIMITS: ProtoLimits = {
  maxValueDepth: 8,
  maxSpans: 200_000,
  maxAttributes: 5_000_000,
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new ProtoError("varint longer than 10 bytes");
  }

  /** A varint known to fit a JS number (tags, lengths). */
  smallVarint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtoError("truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new ProtoError("length or tag varint too long");
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.end) throw new ProtoError("truncated fixed64");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0, true);
    this.pos += 8;
    return v;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new ProtoError("truncated double");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Bounds of a length-delimited field; advances past it. */
  sub(): Reader {
    const len = this.smallVarint();
    if (this.pos + len > this.end) throw new ProtoError(`length ${len} runs past the end of its message`);
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }

  bytes(): Uint8Array {
    const r = this.sub();
    return this.buf.subarray(r.pos, r.end);
  }

  string(): string {
    try {
      return utf8.decode(this.bytes());
    } catch {
      throw new ProtoError("string field is not valid UTF-8");
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.pos + 8 > this.end) throw new ProtoError("truncated fixed64");
        this.pos += 8;
        return;
      case 2:
        this.sub();
        return;
      case 5:
        if (this.pos + 4 > this.end) throw new ProtoError("truncated fixed32");
        this.pos += 4;
        return;
      default:
        throw new ProtoError(`unsupported wire type ${wireType}`);
    }
  }

  /** Next tag as [field, wireType]. */
  tag(): [number, number] {
    const t = this.smallVarint();
    const field = Math.floor(t / 8);
    if (field === 0) throw new ProtoError("field number 0");
    return [field, t & 7];
  }
}

function expect(wire: number, want: number, what: string): void {
  if (wire !== want) throw new ProtoError(`${what}: wire type ${wire}, expected ${want}`);
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += HEX[x]!;
  return s;
}

class Decoder {
  spans = 0;
  attributes = 0;
  constructor(readonly limits: ProtoLimits) {}

  anyValue(r: Reader, depth: number): WireAnyValue {
    if (depth > this.limits.maxValueDepth)
      throw new ProtoError(`attribute value nested deeper than ${this.limits.maxValueDepth}`);
    let v: WireAnyValue = null;
    while (!r.done()) {
      const [f, w] = r.tag();
      if (f === 1 && w === 2) v = r.string();
      else if (f === 2 && w === 0) v = r.varint() !== 0n;
      else if (f === 3 && w === 0) v = Number(BigInt.asIntN(64, r.varint()));
      else if (f === 4 && w === 1) v = r.double();
      else if (f === 5 && w === 2) {
        const a = r.sub();
        const values: WireAnyValue[] = [];
        while (!a.done()) {
          const [af, aw] = a.tag();
          if (af === 1) {
            expect(aw, 2, "ArrayValue.values");
            values.push(this.anyValue(a.sub(), depth + 1));
          } else a.skip(aw);
        }
        v = values;
      } else if (f === 6 && w === 2) {
        const kv = r.sub();
        const obj: Record<string, WireAnyValue> = {};
        while (!kv.done()) {
          const [kf, kw] = kv.tag();
          if (kf === 1) {
            expect(kw, 2, "KeyValueList.values");
            const [k, val] = this.keyValue(kv.sub(), depth + 1);
            obj[k] = val;
          } else kv.skip(kw);
        }
        v = JSON.stringify(obj);
      } else if (f === 7 && w === 2) v = Buffer.from(r.bytes()).toString("base64");
      else r.skip(w);
    }
    return v;
  }

  keyValue(r: Reader, depth: number): [string, WireAnyValue] {
    if (++this.attributes > this.limits.maxAttributes)
      throw new ProtoError(`more than ${this.limits.maxAttributes} attributes`);
    let key = "";
    let value: WireAnyValue = null;
    while (!r.done()) {
      const [f, w] = r.tag();
      if (f === 1) {
        expect(w, 2, "KeyValue.key");
        key = r.string();
      } else if (f === 2) {
        expect(w, 2, "KeyValue.value");
        value = this.anyValue(r.sub(), depth);
      } else r.skip(w);
    }
    return [key, value];
  }

  event(r: Reader): WireSpan["events"][number] {
    let name = "";
    let timeUnixNano = 0n;
    const attrs = new Map<string, WireAnyValue>();
    while (!r.done()) {
      const [f, w] = r.tag();
      if (f === 1 && w === 1) timeUnixNano = r.fixed64();
      else if (f === 2) {
        expect(w, 2, "Event.name");
        name = r.string();
      } else if (f === 3) {
        expect(w, 2, "Event.attributes");
        const [k, v] = this.keyValue(r.sub(), 0);
        attrs.set(k, v);
      } else r.skip(w);
    }
    return { name, timeUnixNano, attrs };
  }

  span(r: Reader, path: string): WireSpan {
    if (++this.spans > this.limits.maxSpans)
      throw new ProtoError(`more than ${this.limits.maxSpans} spans in one request`);
    const s: WireSpan = {
      traceId: "",
      spanId: "",
      parentSpanId: null,
      name: "",
      startUnixNano: 0n,
      endUnixNano: 0n,
      attrs: new Map(),
      events: [],
      statusCode: 0,
      path,
    };
    while (!r.done()) {
      const [f, w] = r.tag();
      if (f === 1 && w === 2) s.traceId = hex(r.bytes());
      else if (f === 2 && w === 2) s.spanId = hex(r.bytes());
      else if (f === 4 && w === 2) {
        const p = hex(r.bytes());
        s.parentSpanId = p === "" ? null : p;
      } else if (f === 5 && w === 2) s.name = r.string();
      else if (f === 7 && w === 1) s.startUnixNano = r.fixed64();
      else if (f === 8 && w === 1) s.endUnixNano = r.fixed64();
      else if (f === 9 && w === 2) {
        const [k, v] = this.keyValue(r.sub(), 0);
        s.attrs.set(k, v);
      } else if (f === 11 && w === 2) s.events.push(this.event(r.sub()));
      else if (f === 15 && w === 2) {
        const st = r.sub();
        while (!st.done()) {
          const [sf, sw] = st.tag();
          if (sf === 3 && sw === 0) s.statusCode = Number(st.varint());
          else st.skip(sw);
        }
      } else r.skip(w);
    }
    return s;
  }
}

/**
 * Decodes an `ExportTraceServiceRequest`: resource_spans(1) -> scope_spans(2) (or the deprecated
 * instrumentation_library_spans(1000)) -> spans(2). Throws ProtoError with the reason on bad input.
 */
export function decodeTraceRequest(buf: Uint8Array, limits: ProtoLimits = DEFAULT_PROTO_LIMITS): WireSpan[] {
  const d = new Decoder(limits);
  const out: WireSpan[] = [];
  const top = new Reader(buf, 0, buf.length);
  let ri = 0;
  while (!top.done()) {
    const [f, w] = top.tag();
    if (f !== 1) {
      top.skip(w);
      continue;
    }
    expect(w, 2, "resource_spans");
    const rs = top.sub();
    let si = 0;
    while (!rs.done()) {
      const [rf, rw] = rs.tag();
      if (rf !== 2 && rf !== 1000) {
        rs.skip(rw);
        continue;
      }
      expect(rw, 2, "scope_spans");
      const ss = rs.sub();
      let pi = 0;
      while (!ss.done()) {
        const [sf, sw] = ss.tag();
        if (sf !== 2) {
          ss.skip(sw);
          continue;
        }
        expect(sw, 2, "spans");
        out.push(d.span(ss.sub(), `resourceSpans[${ri}].scopeSpans[${si}].spans[${pi}]`));
        pi++;
      }
      si++;
    }
    ri++;
  }
  return out;
}

// ------------------------------------------------------------------ encoding the replies

function varintBytes(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function lenField(field: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([...varintBytes(field * 8 + 2), ...varintBytes(body.length), ...body]);
}

/** `ExportTraceServiceResponse`: empty, or partial_success(1){rejected_spans(1), error_message(2)}. */
export function encodeTraceResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  if (rejectedSpans === 0 && errorMessage === "") return new Uint8Array(0);
  const msg = Buffer.from(errorMessage, "utf8");
  const inner = Uint8Array.from([...varintBytes(1 * 8), ...varintBytes(rejectedSpans), ...lenField(2, msg)]);
  return lenField(1, inner);
}

/** `google.rpc.Status` {code(1), message(2)} for error replies to protobuf requests. */
export function encodeStatus(code: number, message: string): Uint8Array {
  return Uint8Array.from([
    ...varintBytes(1 * 8),
    ...varintBytes(code),
    ...lenField(2, Buffer.from(message, "utf8")),
  ]);
}
