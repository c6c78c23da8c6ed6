/**
 * Per-model admission control: a FIFO semaphore for concurrency and token buckets for requests and tokens per
 * minute. Every wait is abortable, so Ctrl-C and per-call deadlines release queued calls at once.
 */

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

function addWaiter(queue: Waiter[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const w: Waiter = { resolve, reject, signal };
    if (signal) {
      w.onAbort = () => {
        const i = queue.indexOf(w);
        if (i >= 0) queue.splice(i, 1);
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", w.onAbort, { once: true });
    }
    queue.push(w);
  });
}

function settle(w: Waiter): void {
  if (w.signal && w.onAbort) w.signal.removeEventListener("abort", w.onAbort);
  w.resolve();
}

export class Semaphore {
  private active = 0;
  private readonly queue: Waiter[] = [];
  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.active;
  }

  /** Takes a slot if one is free and nobody is queued. */
  tryAcquire(): boolean {
    if (this.active < this.limit && this.queue.length === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.active < this.limit && this.queue.length === 0) {
      this.active++;
      return;
    }
    await addWaiter(this.queue, signal);
  }

  release(): void {
    const next = this.queue.shift();
    if (next) settle(next);
    else this.active--;
  }
}

/**
 * A token bucket refilled continuously at `perMinute / 60 000` per ms, holding at most `capacity`. Takers are served
 * in order; a take larger than the capacity waits for a full bucket and then drives the level negative (debt), so
 * one oversized request cannot block forever. `adjust` reconciles an estimate with the real figure afterwards.
 */
export class TokenBucket {
  private level: number;
  private last: number;
  private readonly perMs: number;
  private readonly queue: { n: number; w: Waiter }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly perMinute: number,
    readonly capacity: number = Math.max(1, perMinute / 6),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.perMs = perMinute / 60_000;
    this.level = this.capacity;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    this.level = Math.min(this.capacity, this.level + (t - this.last) * this.perMs);
    this.last = t;
  }

  get available(): number {
    this.refill();
    return this.level;
  }

  /** Takes `n` if they are available now and nobody is queued. */
  tryTake(n: number): boolean {
    this.refill();
    if (this.queue.length === 0 && this.level >= Math.min(n, this.capacity)) {
      this.level -= n;
      return true;
    }
    return false;
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    this.refill();
    const need = Math.min(n, this.capacity);
    if (this.queue.length === 0 && this.level >= need) {
      this.level -= n;
      return;
    }
    const waiter: { n: number; w: Waiter } = { n, w: undefined as unknown as Waiter };
    const p = new Promise<void>((resolve, reject) => {
      waiter.w = { resolve, reject, signal };
      if (signal) {
        waiter.w.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortReason(signal));
          if (i === 0) this.schedule();
        };
        signal.addEventListener("abort", waiter.w.onAbort, { once: true });
      }
    });
    this.queue.push(waiter);
    this.schedule();
    return p;
  }

  /** Returns (positive) or charges (negative) tokens after the fact. */
  adjust(delta: number): void {
    this.refill();
    this.level = Math.min(this.capacity, this.level + delta);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.refill();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const need = Math.min(head.n, this.capacity);
      if (this.level < need) {
        const waitMs = Math.max(1, Math.ceil((need - this.level) / this.perMs));
        this.timer = setTimeout(() => {
          this.timer = null;
          this.schedule();
        }, waitMs);
        return;
      }
      this.queue.shift();
      this.level -= head.n;
      settle(head.w);
    }
  }
}
