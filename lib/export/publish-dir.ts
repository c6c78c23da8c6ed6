import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { recoverFileSet, safeJoin, writeFileSetAtomic } from "../util/atomic-write";
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
 * Atomic publish onto the directory the gateway reads (gateway-contract.md §10): every file is staged and fsynced, a
 * journal commits the set, then the manifest, the companion JSON and last the served file are renamed into place;
 * finally the served file's mtime is made strictly newer than the one it replaced, so the gateway's lazy reload
 * picks it up. A publish killed after the commit is completed by the next publish (or `recoverFileSet`).
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
  // A publish killed half-way is completed first, so "the previous bundle" is a whole one.
  recoverFileSet(dir);
  const previous = previousBundleFiles(dir);
  const target = safeJoin(dir, served[0]!.name, "bundle file name");
  const previousMtimeMs = existsSync(target) ? statSync(target).mtimeMs : null;
  const order = [
    ...(manifest ? [MANIFEST_NAME] : []),
    ...files.filter((x) => !x.served).map((f) => f.name),
    served[0]!.name,
  ];
  const bytes = new Map<string, Uint8Array>(files.map((f) => [f.name, f.bytes]));
  if (manifest) bytes.set(MANIFEST_NAME, manifest);
  // One journalled file set: a kill at any point leaves the previous bundle or (once recovered) this one. Exactly
  // one bundle in the folder: the previous bundle's files that this one does not have are removed (only files its
  // manifest listed; nothing else in the folder is touched).
  writeFileSetAtomic(
    dir,
    order.map((name) => ({ name, data: bytes.get(name)! })),
    {
      remove: previous.filter((name) => name === path.basename(name)),
      newer: previousMtimeMs === null ? null : { name: served[0]!.name, thanMs: previousMtimeMs },
    },
  );
  const mtimeMs = statSync(target).mtimeMs;
  return { served: target, order, mtimeMs, previousMtimeMs };
}
