import cliProgress from "cli-progress";
import { env } from "./env";

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

/**
 * A progress bar with rate and ETA on stderr. On a non-TTY (CI, notebooks) it prints a line every
 * few seconds instead, so logs stay readable.
 */
export function progressBar(label: string, total: number, unit = "items"): Progress {
  if (env().ROUTERLAB_QUIET === true) return { tick: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    let value = 0;
    bar.start(total, 0, { rate: "0" });
    return {
      tick: (n = 1) => {
        value += n;
        const rate = value / Math.max((Date.now() - started) / 1000, 1e-3);
        bar.update(value, { rate: rate.toFixed(1) });
      },
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  let value = 0;
  let lastPrint = 0;
  return {
    tick: (n = 1) => {
      value += n;
      const now = Date.now();
      if (now - lastPrint > 5000 || value === total) {
        lastPrint = now;
        const secs = (now - started) / 1000;
        const rate = value / Math.max(secs, 1e-3);
        const eta = rate > 0 ? (total - value) / rate : 0;
        process.stderr.write(
          `${label}: ${value}/${total} ${unit} (${rate.toFixed(1)}/s, ETA ${eta.toFixed(0)}s)\n`,
        );
      }
    },
    stop: () => {},
  };
}
