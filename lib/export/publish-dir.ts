import { existsSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { fsyncDir, safeJoin, writeFileAtomic } from "../util/atomic-write";
import { RouterlabError } from "../util/errors";
import type { BundleFile } from "./artifacts";
import { MANIFEST_NAME } from "./bundle";
import { parseManifest } from "./manifest";
import { assertRescores } from "./rescore";

/** Files the bundle currently published in `dir` lists (its manifest), or none. */
function previousBundleFiles(dir: string): string[] {
  const file = path.join(dir, MANIFEST_NAME);
  if (!existsSync(file)) return [];
  try {
    return parseManifest(readFileSync(file, "utf8"), file).artifacts.map((a) => path.basename(a.path));
  } catch {
    return [];
  }
}

/**
 * Atomic publish onto the directory the gateway reads (gateway-contract.md §10): manifest, then companion JSON, each by
 * atomic rename, then the served file through a temporary name in the same directory, fsync and rename; finally the
 * served file's mtime is made strictly newer than the one it replaced, so the gateway's lazy reload picks it up.
 */

export interface PublishResult {
  served: string;
  order: string[];
  mtimeMs: number;
  previousMtimeMs: number | null;
}

export function publishToDir(dir: string, files: readonly BundleFile[], manifest?: Buffer): PublishResult {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RouterlabError(`not a directory: ${dir}`);
  const served = files.filter((f) => f.served);
  if (served.length !== 1)
    throw new RouterlabError(`a bundle must have exactly one served file, not ${served.length}`);
  // Loaded and re-scored before anything is written: a matching hash alone does not make a file loadable.
  if (manifest) assertRescores(files, manifest, dir);
  const previous = previousBundleFiles(dir);
  const target = safeJoin(dir, served[0]!.name, "bundle file name");
  const previousMtimeMs = existsSync(target) ? statSync(target).mtimeMs : null;
  const order: string[] = [];
  if (manifest) {
    writeFileAtomic(path.join(dir, MANIFEST_NAME), manifest);
    order.push(MANIFEST_NAME);
  }
  for (const f of files.filter((x) => !x.served)) {
    writeFileAtomic(safeJoin(dir, f.name, "bundle file name"), f.bytes);
    order.push(f.name);
  }
  writeFileAtomic(safeJoin(dir, served[0]!.name, "bundle file name"), served[0]!.bytes);
  order.push(served[0]!.name);
  // Exactly one bundle in the folder: the previous bundle's files that this one does not have are removed (only
  // files its manifest listed; nothing else in the folder is touched).
  const now = new Set([MANIFEST_NAME, ...files.map((f) => f.name)]);
  for (const name of previous)
    if (!now.has(name) && name === path.basename(name)) rmSync(path.join(dir, name), { force: true });
  fsyncDir(dir);
  let mtimeMs = statSync(target).mtimeMs;
  if (previousMtimeMs !== null && !(mtimeMs > previousMtimeMs)) {
    // Coarse timestamps or a clock step: push the mtime past the old one (a whole second, for 1 s filesystems).
    const t = new Date(Math.max(previousMtimeMs + 1000, Date.now()));
    utimesSync(target, t, t);
    mtimeMs = statSync(target).mtimeMs;
    if (!(mtimeMs > previousMtimeMs))
      throw new RouterlabError(`cannot make ${target}'s mtime newer than before`);
  }
  return { served: target, order, mtimeMs, previousMtimeMs };
}
