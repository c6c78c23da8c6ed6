/**
 * A real headless browser for the tests: Debian's `chromium` (installed by scripts/setup-browser.sh, which the
 * suite runner calls; its path comes in ROUTERLAB_CHROMIUM) driven by playwright-core, with a fresh profile
 * folder removed afterwards. Screenshots go under the test logs (.cache/test-logs/browser) and are kept.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { projectRoot } from "../../lib/util/paths";

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Saves a full-page screenshot under the test logs and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export function chromiumPath(): string {
  const p = process.env.ROUTERLAB_CHROMIUM;
  if (p === undefined || p === "") {
    throw new Error(
      "ROUTERLAB_CHROMIUM is not set: run the tests through the suite runner (it calls scripts/setup-browser.sh)",
    );
  }
  return p;
}

export function screenshotDir(): string {
  return path.join(projectRoot(), ".cache", "test-logs", "browser");
}

export async function launchBrowser(opts: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), "routerlab-chromium-"));
  // A persistent context is the way to give Chromium its own --user-data-dir: a fresh one per test.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async screenshot(name: string): Promise<string> {
      mkdirSync(screenshotDir(), { recursive: true });
      const file = path.join(
        screenshotDir(),
        `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.png`,
      );
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close(): Promise<void> {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
