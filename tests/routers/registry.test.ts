import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RouterlabError } from "../../lib/util/errors";
import { createRouter, routerKinds } from "../../lib/routers/registry";

describe("router registry", () => {
  it("lists the baseline kinds", () => {
    for (const k of ["random", "always-weak", "always-strong", "single-model", "oracle"])
      assert.ok(routerKinds().includes(k), k);
  });
  it("unknown kind and bad hyperparameters are RouterlabErrors naming the field", () => {
    assert.throws(
      () => createRouter("nope"),
      (e: unknown) => e instanceof RouterlabError && /unknown router kind 'nope'/.test(e.message),
    );
    assert.throws(() => createRouter("random", { strongShare: 2 }), /field 'strongShare'/);
    assert.throws(() => createRouter("random", { bogus: 1 }), /random:/);
  });
  it("applies schema defaults", () => {
    assert.deepEqual(createRouter("random").hyperparameters, { seed: 0, strongShare: 0.5 });
  });
});
