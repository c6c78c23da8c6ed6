import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePythonLiteral, PythonLiteralError } from "../../lib/data/python-literal";

test("parses a SimpleQA metadata dict", () => {
  const v = parsePythonLiteral(
    "{'topic': 'Science and technology', 'answer_type': 'Person', 'urls': ['https://a.org/x', 'https://b.org/y']}",
  );
  assert.deepEqual(v, {
    topic: "Science and technology",
    answer_type: "Person",
    urls: ["https://a.org/x", "https://b.org/y"],
  });
});

test("parses an LLMRouter scores dict with floats and ints", () => {
  assert.deepEqual(parsePythonLiteral("{'m-1': 0.0, \"m2\": 1, 'm3': 0.6666666666666666, 'm4': -1.5e-3}"), {
    "m-1": 0,
    m2: 1,
    m3: 0.6666666666666666,
    m4: -0.0015,
  });
});

test("strings: both quote styles, escapes, unicode escapes, adjacent literals", () => {
  assert.equal(parsePythonLiteral(`"It's"`), "It's");
  assert.equal(parsePythonLiteral(`'say \\"hi\\" \\'x\\''`), `say "hi" 'x'`);
  assert.equal(parsePythonLiteral(`'a\\nb\\tc\\\\d'`), "a\nb\tc\\d");
  assert.equal(parsePythonLiteral(`'\\xe9\\u00e9\\U0001F600'`), "éé😀");
  assert.equal(parsePythonLiteral(`'ab' "cd"`), "abcd");
  assert.equal(parsePythonLiteral(`r'\\d+'`), "\\d+");
  assert.equal(parsePythonLiteral(`'''multi\nline'''`), "multi\nline");
  assert.equal(parsePythonLiteral(`'\\101'`), "A");
});

test("True/False/None, lists, tuples, nesting, trailing commas", () => {
  assert.deepEqual(parsePythonLiteral("[True, False, None, (1, 2,), {'a': [{}]},]"), [
    true,
    false,
    null,
    [1, 2],
    { a: [{}] },
  ]);
});

test("rejects what is not a literal, with an offset, and never evaluates", () => {
  assert.throws(() => parsePythonLiteral("{'a': 1"), PythonLiteralError);
  assert.throws(() => parsePythonLiteral("{'a' 1}"), /expected ':'/);
  assert.throws(() => parsePythonLiteral("__import__('os')"), PythonLiteralError);
  assert.throws(() => parsePythonLiteral("{'a': nan}"), PythonLiteralError);
  assert.throws(() => parsePythonLiteral("'unterminated"), /unterminated/);
  assert.throws(() => parsePythonLiteral("{'a': 1} extra"), /after the value/);
  assert.throws(() => parsePythonLiteral(""), /end of input/);
});
