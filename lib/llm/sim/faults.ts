/**
 * Seeded fault injection. A request's fault is drawn from (server seed, canonical request hash, how many times this
 * exact request was received before), so the same sequence of requests meets the same faults on every run,
 * whatever the arrival order under concurrency, and a retry of a faulted request draws afresh.
 */
import type { SimFaults } from "./types";
import { uniform } from "./text";

export type FaultKind = "429" | "500" | "timeout" | "truncated" | "empty";
export const FAULT_KINDS: readonly FaultKind[] = ["429", "500", "timeout", "truncated", "empty"];

export const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_TIMEOUT_HANG_MS = 10_000;

export class FaultPlan {
  private readonly attempts = new Map<string, number>();
  private readonly kinds: readonly FaultKind[];

  constructor(
    readonly faults: SimFaults | undefined,
    private readonly seed: number,
  ) {
    this.kinds = faults?.kinds && faults.kinds.length > 0 ? faults.kinds : FAULT_KINDS;
  }

  get active(): boolean {
    return (this.faults?.rate ?? 0) > 0;
  }

  /** The fault for this arrival of the request (null: serve normally). Counts the arrival. */
  decide(requestHash: string): FaultKind | null {
    if (!this.active) return null;
    const n = this.attempts.get(requestHash) ?? 0;
    this.attempts.set(requestHash, n + 1);
    if (uniform(this.seed, "fault", requestHash, n) >= this.faults!.rate) return null;
    const k = Math.floor(uniform(this.seed, "fault-kind", requestHash, n) * this.kinds.length);
    return this.kinds[Math.min(k, this.kinds.length - 1)]!;
  }

  get retryAfterSeconds(): number {
    return this.faults?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  }

  get timeoutHangMs(): number {
    return this.faults?.timeoutHangMs ?? DEFAULT_TIMEOUT_HANG_MS;
  }
}
