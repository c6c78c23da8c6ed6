/** The shared verdict of the kill-at-every-write tests. */
import assert from "node:assert/strict";

/**
 * After a kill at every write point: each state is the old output set or the new one (never a mix), and kills both
 * before and after the commit point were seen (so the test really crossed it).
 */
export function assertOldOrNewAtEveryKill<S>(
  seen: readonly { n: number; set: S }[],
  oldSet: S,
  newSet: S,
  same: (a: S, b: S) => boolean = (a, b) => a === b,
): void {
  for (const k of seen)
    assert.ok(
      same(k.set, oldSet) || same(k.set, newSet),
      `kill at write ${k.n}: neither the old set nor the new one`,
    );
  assert.ok(
    seen.some((k) => same(k.set, oldSet)),
    "a kill before the commit was seen",
  );
  assert.ok(
    seen.some((k) => same(k.set, newSet)),
    "a kill after the commit was seen",
  );
}
