// Installs node_modules from the lockfile when they are missing or older than the lockfile,
// so that `npm start` and `npm test` work on a fresh clone with no separate install step.
const { existsSync, statSync, readFileSync } = require("node:fs");
const { execSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const lock = path.join(root, "package-lock.json");
const marker = path.join(root, "node_modules", ".package-lock.json");

const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.error("[routerlab] installing Node dependencies (npm ci) ...");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
ensurePolarsBinding();

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
  execSync(`npm install --no-save --no-audit --no-fund --engine-strict=false ${name}@${version}`, {
    cwd: root,
    stdio: "inherit",
  });
}
