// `npm test`: installs what is missing, checks format, lint and types, builds, then runs the whole
// suite with the real services (MLflow, S3, Jupyter) that tests/harness starts and stops.
// Usage: npm test [-- --no-lint] [-- <test file or directory under dist/tests> ...]
const { execFileSync, spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);
const noLint = args.includes("--no-lint");
const targets = args.filter((a) => !a.startsWith("--"));

function step(name, cmd, cmdArgs) {
  const started = Date.now();
  process.stderr.write(`[routerlab test] ${name} ...\n`);
  execFileSync(cmd, cmdArgs, { cwd: root, stdio: "inherit" });
  process.stderr.write(`[routerlab test] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}

const bin = (name) => path.join(root, "node_modules", ".bin", name);

try {
  step("python environment", "bash", [path.join(root, "scripts", "setup-python.sh")]);
  if (!noLint) {
    step("format check (prettier)", bin("prettier"), ["--check", "."]);
    step("lint (eslint)", bin("eslint"), ["."]);
  }
  // node_modules/.bin/tsc can point at tslab's bundled TypeScript 5.0; build with the project's own.
  step("typecheck and build (tsc)", process.execPath, [
    path.join(root, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    "tsconfig.json",
  ]);
} catch {
  process.exit(1);
}
const suite = spawnSync(
  process.execPath,
  [path.join(root, "dist", "tests", "harness", "run-suite.js"), ...targets],
  {
    cwd: root,
    stdio: "inherit",
  },
);
process.exit(suite.status ?? 1);
