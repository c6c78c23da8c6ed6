import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { filesUnder as absoluteFilesUnder } from "./files";

/** The two faulty disks of the disk-full / read-only tests: an 8 KiB tmpfs and a read-only one. */
export const DISK_FAULTS = [
  { name: "a full disk (8 KiB tmpfs)", opts: "size=8k", error: /the disk is full \[ENOSPC\]/ },
  {
    name: "a read-only folder",
    opts: "ro,size=64k",
    error: /the folder is read-only or not writable \[EROFS\]/,
  },
] as const;

/** Mounts a tmpfs (root only); returns null, or the reason it cannot. */
export function mountTmpfs(dir: string, opts: string): string | null {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir], { encoding: "utf8" });
  return r.status === 0 ? null : `mount -t tmpfs not permitted here: ${(r.stderr || String(r.error)).trim()}`;
}

export function unmount(dir: string): void {
  spawnSync("umount", [dir]);
}

/** Every file (not folder) under `dir`, relative paths, sorted: what a failed write left behind. */
export function filesUnder(dir: string): string[] {
  return absoluteFilesUnder(dir)
    .map((f) => path.relative(dir, f))
    .sort();
}

/** A path as a regular expression (for matching it inside an error message). */
export function pathRe(p: string): string {
  return p.replace(/[/.\\^$*+?()[\]{}|-]/g, "\\$&");
}
