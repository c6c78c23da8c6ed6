// Builds dist/ (tsc) when it is missing or older than the TypeScript sources, so the CLI works on a fresh clone
// (`npm run routerlab -- --help`, `bin/routerlab.js`) without a separate build step. Messages go to stderr.
const { existsSync, readdirSync, statSync } = require("node:fs");
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const entry = path.join(root, "dist", "lib", "cli", "main.js");

/** The newest modification time of the .ts files under `dir` (symlinks are not followed). */
function newestTs(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.isFile() && e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Why dist/ needs a build, or null when it is up to date with lib/ and tsconfig.json. */
function staleReason() {
  if (!existsSync(entry)) return "dist/ has not been built";
  const built = statSync(entry).mtimeMs;
  const sources = Math.max(
    newestTs(path.join(root, "lib")),
    statSync(path.join(root, "tsconfig.json")).mtimeMs,
  );
  return sources > built ? "lib/ changed since the last build" : null;
}

function ensureBuilt() {
  const reason = staleReason();
  if (reason === null) return;
  // A fresh clone has no node_modules yet; keeping them current otherwise is npm start's and npm test's job.
  if (!existsSync(path.join(root, "node_modules", "typescript", "bin", "tsc")))
    require("./ensure-node-deps.js").main();
  process.stderr.write(`[routerlab] building (${reason}) ...\n`);
  // The same tsc as `npm run build` and `npm test`: the project's TypeScript, not tslab's bundled fork that
  // node_modules/.bin/tsc may point at.
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.json")], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) {
    process.stderr.write("[routerlab] the build failed (see above)\n");
    process.exit(1);
  }
}

module.exports = { ensureBuilt, staleReason, entry };

if (require.main === module) ensureBuilt();
