import assert from "node:assert/strict";
import { test } from "node:test";
import { createEmbedder } from "../../lib/embed";
import { generatedProbes, realQueries } from "../peers/embed-probe";
import { pythonReference, rowCosines } from "../peers/embed-reference";

/**
 * Parity against the real Python peer: sentence-transformers (the gateway's code path) with the same
 * model, offline, on 520 varied texts: 400 real queries from the bundled data plus 120 generated long
 * (> 256 word-pieces), unicode, code and mixed texts.
 */
test("fp32 vectors match sentence-transformers (cosine >= 0.9999 on every text); int8 figure printed", async () => {
  const fp32 = await createEmbedder({ precision: "fp32" });
  // real queries of at most 96 word-pieces keep the Python side fast on 2 shared cores; the long ones come
  // from the generated set (and 20 long real ones)
  const real = realQueries(3000, 3);
  const short = real.filter((t) => fp32.tokenize(t).length <= 96).slice(0, 380);
  const long = real.filter((t) => fp32.tokenize(t).length >= 256).slice(0, 20);
  const texts = [...short, ...long, ...generatedProbes(120)];
  assert.ok(texts.length >= 500, `${texts.length} texts`);
  const int8 = await createEmbedder({ precision: "int8" });
  try {
    // an empty-after-strip text among them is rejected with an error naming its row, never embedded
    await assert.rejects(fp32.embed([...texts, " \t\n "]), /\$\[520\].*empty text/);
    const longOnes = texts.filter((t) => fp32.tokenize(t).length === 256).length;
    assert.ok(longOnes >= 40, `want texts truncated at 256 word-pieces, got ${longOnes}`);
    const [ref, ours, ours8] = [
      await pythonReference(texts),
      await fp32.embed(texts),
      await int8.embed(texts),
    ];
    assert.equal(ref.matrix.dim, 384);
    const cos = rowCosines(ours, ref.matrix);
    let worst = 0;
    for (let i = 1; i < cos.length; i++) if (cos[i]! < cos[worst]!) worst = i;
    assert.ok(
      cos[worst]! >= 0.9999,
      `text ${worst} cosine ${cos[worst]} (${JSON.stringify(texts[worst]!.slice(0, 80))})`,
    );
    const cos8 = rowCosines(ours8, ref.matrix);
    const mean = (a: Float64Array): number => a.reduce((s, x) => s + x, 0) / a.length;
    console.log(
      `[embed parity] ${texts.length} texts (${longOnes} truncated at 256): fp32 cosine min ${Math.min(...cos).toFixed(7)} mean ${mean(cos).toFixed(7)}; ` +
        `int8 (NOT gateway-compatible) cosine min ${Math.min(...cos8).toFixed(5)} mean ${mean(cos8).toFixed(5)}`,
    );
    // int8 is an approximation, but a broken quantisation would be far off
    assert.ok(mean(cos8) > 0.98, `int8 mean cosine ${mean(cos8)}`);
    assert.ok(
      Math.min(...cos8) < 0.99999,
      "int8 should not be identical to fp32 (is the int8 file really int8?)",
    );
  } finally {
    await fp32.dispose();
    await int8.dispose();
  }
});
