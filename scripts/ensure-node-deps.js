// Installs node_modules from the lockfile when they are missing or older than the lockfile,
// so that `npm start` and `npm test` work on a fresh clone with no separate install step.
const { existsSync, statSync, readFileSync } = require("node:fs");
const { execFileSync, spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

// nodejs-polars (>= 20 in its own package.json) ships its native bindings as packages that declare node >= 22, so
// npm prints an EBADENGINE warning for them on Node 20 although they load and work there: `npm test` runs the
// data layer (lib/data/frame.ts) on Node 20 and polarsWorks() below checks it on every install. Those warnings, and
// only those, are dropped; the check replaces them.
const ENGINE_WARNING_KEPT_OUT = /^nodejs-polars-[a-z0-9-]+@/;

/**
 * npm's output without the EBADENGINE warning blocks of the packages in ENGINE_WARNING_KEPT_OUT; every other line,
 * and every other package's engine warning, is kept.
 */
function dropPolarsEngineWarnings(text) {
  const out = [];
  let block = null;
  for (const line of text.split("\n")) {
    if (/^npm warn EBADENGINE Unsupported engine \{\s*$/.test(line)) {
      block = [line];
      continue;
    }
    if (block !== null) {
      block.push(line);
      if (/^npm warn EBADENGINE \}\s*$/.test(line)) {
        const pkg = block.map((l) => /package: '([^']+)'/.exec(l)).find((m) => m !== null);
        if (!(pkg && ENGINE_WARNING_KEPT_OUT.test(pkg[1]))) out.push(...block);
        block = null;
      }
      continue;
    }
    out.push(line);
  }
  if (block !== null) out.push(...block);
  return out.join("\n");
}

function npmRun(args) {
  const r = spawnSync(npm, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  process.stdout.write(dropPolarsEngineWarnings(r.stdout ?? ""));
  process.stderr.write(dropPolarsEngineWarnings(r.stderr ?? ""));
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
}

/** The polars binding loads and computes on this Node. */
function polarsWorks() {
  try {
    const out = execFileSync(
      process.execPath,
      [
        "-e",
        'const pl = require("nodejs-polars"); process.stdout.write(String(pl.DataFrame({ a: [1, 2, 3] }).getColumn("a").sum()))',
      ],
      { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    return out.trim() === "6";
  } catch {
    return false;
  }
}

// nodejs-polars' native binding packages declare node >= 22, so on Node 20 npm skips them as optional
// dependencies; they work on Node 20 all the same. Install the one for this platform explicitly.
function ensurePolarsBinding() {
  const platforms = {
    "linux-x64": "linux-x64-gnu",
    "linux-arm64": "linux-arm64-gnu",
    "darwin-x64": "darwin-x64",
    "darwin-arm64": "darwin-arm64",
    "win32-x64": "win32-x64-msvc",
  };
  const suffix = platforms[`${process.platform}-${process.arch}`];
  const polarsPkg = path.join(root, "node_modules", "nodejs-polars", "package.json");
  if (!suffix || !existsSync(polarsPkg)) return;
  const name = `nodejs-polars-${suffix}`;
  if (existsSync(path.join(root, "node_modules", name, "package.json"))) return;
  const version = JSON.parse(readFileSync(polarsPkg, "utf8")).version;
  console.error(
    `[routerlab] installing ${name}@${version} (native polars binding; npm skips it on Node < 22) ...`,
  );
  npmRun(["install", "--no-save", "--no-audit", "--no-fund", "--engine-strict=false", `${name}@${version}`]);
  if (!polarsWorks()) {
    throw new Error(`${name}@${version} does not load on Node ${process.version}; use Node 22 or newer`);
  }
  console.error(`[routerlab] ${name}@${version} loads and computes on Node ${process.version}`);
}

function main() {
  const lock = path.join(root, "package-lock.json");
  const marker = path.join(root, "node_modules", ".package-lock.json");
  const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
  if (stale) {
    console.error("[routerlab] installing Node dependencies (npm ci) ...");
    npmRun(["ci", "--no-audit", "--no-fund"]);
  }
  ensurePolarsBinding();
  if (stale && existsSync(path.join(root, "node_modules", "nodejs-polars")) && !polarsWorks()) {
    throw new Error(`nodejs-polars does not load on Node ${process.version}; use Node 22 or newer`);
  }
}

module.exports = { dropPolarsEngineWarnings, main };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`[routerlab] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
