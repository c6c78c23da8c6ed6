/**
 * Permutation that sorts float64 values descending, ties in ascending index order (a stable sort), by
 * LSD radix sort on the IEEE-754 bits: four 16-bit passes, O(N), several times faster than a comparator
 * sort for large N. NaN must be excluded by the caller; -0 sorts next to +0.
 */
export function argsortDesc(values: ArrayLike<number>): Uint32Array {
  const n = values.length;
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const hiIdx = little ? 1 : 0;
  const loIdx = little ? 0 : 1;
  // Keys that order ascending as the values order descending: map to the ascending-sortable form,
  // then complement.
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    f[0] = values[i]!;
    let h = u[hiIdx]!;
    let l = u[loIdx]!;
    if (h & 0x80000000) {
      h = ~h >>> 0;
      l = ~l >>> 0;
    } else {
      h = (h | 0x80000000) >>> 0;
    }
    hi[i] = ~h >>> 0;
    lo[i] = ~l >>> 0;
  }
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const count = new Uint32Array(65536);
  const passes: [Uint32Array, number][] = [
    [lo, 0],
    [lo, 16],
    [hi, 0],
    [hi, 16],
  ];
  for (const [key, shift] of passes) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(key[order[i]!]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const idx = order[i]!;
      next[count[(key[idx]! >>> shift) & 0xffff]!++] = idx;
    }
    const tmp = order;
    order = next;
    next = tmp;
  }
  return order;
}
