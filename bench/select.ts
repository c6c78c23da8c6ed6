/**
 * The areas a list of prefixes names: every area whose prefix starts with a wanted one ("export." selects
 * "export.formats." too); a wanted name longer than any area prefix ("mlp.train_20ep") selects only the area with
 * the longest prefix it starts with, so "export.formats." does not also run "export.".
 */
export function selectAreas<A extends { prefix: string }>(all: readonly A[], wanted: readonly string[]): A[] {
  if (wanted.length === 0) return [...all];
  const picked = new Set<A>();
  for (const w of wanted) {
    const below = all.filter((a) => a.prefix.startsWith(w));
    if (below.length > 0) {
      below.forEach((a) => picked.add(a));
      continue;
    }
    const above = all.filter((a) => w.startsWith(a.prefix));
    const longest = Math.max(...above.map((a) => a.prefix.length));
    above.filter((a) => a.prefix.length === longest).forEach((a) => picked.add(a));
  }
  return all.filter((a) => picked.has(a));
}
