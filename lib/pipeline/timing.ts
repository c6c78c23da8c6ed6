/** Where the main job's time goes: wall time per step, printed at the end of `npm start`. */

export interface StepTime {
  step: string;
  seconds: number;
  /** Parts of the step (e.g. each router's fit time summed over folds); they may overlap (fold workers). */
  parts?: { name: string; seconds: number }[];
}

/** Wall-clock steps in order: `mark(step)` closes the step that ran since the previous mark (or creation). */
export class StepTimer {
  private last = performance.now();
  readonly steps: StepTime[] = [];

  mark(step: string, parts?: StepTime["parts"]): void {
    const now = performance.now();
    this.steps.push({ step, seconds: (now - this.last) / 1000, ...(parts ? { parts } : {}) });
    this.last = now;
  }
}

/** A plain-text table of `steps` with each step's share of `totalSeconds`. */
export function timingTable(steps: readonly StepTime[], totalSeconds: number): string {
  const share = (s: number): string => (totalSeconds > 0 ? `${((100 * s) / totalSeconds).toFixed(0)}%` : "-");
  const lines = [`\nwhere the time went (wall clock, ${totalSeconds.toFixed(1)} s in all)`];
  for (const s of steps) {
    lines.push(
      `  ${s.step.padEnd(44)} ${s.seconds.toFixed(1).padStart(8)} s ${share(s.seconds).padStart(5)}`,
    );
    for (const p of s.parts ?? [])
      lines.push(`    ${p.name.padEnd(42)} ${p.seconds.toFixed(1).padStart(8)} s`);
  }
  const rest = totalSeconds - steps.reduce((a, s) => a + s.seconds, 0);
  if (rest > 0.05)
    lines.push(`  ${"other".padEnd(44)} ${rest.toFixed(1).padStart(8)} s ${share(rest).padStart(5)}`);
  return lines.join("\n");
}
