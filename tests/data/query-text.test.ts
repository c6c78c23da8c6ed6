import assert from "node:assert/strict";
import { test } from "node:test";
import { chatQueryText, inputQueryText, promptQueryText, pyStrip } from "../../lib/data/query-text";

test("walks every message in order: system, user, assistant, all turns", () => {
  const q = chatQueryText([
    { role: "system", content: "Be brief." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "What is 2+2?" },
  ]);
  assert.equal(q, "Be brief. Hi Hello! What is 2+2?");
});

test("a string content is used as is (inner whitespace kept)", () => {
  assert.equal(chatQueryText([{ role: "user", content: "a  b\n\tc" }]), "a  b\n\tc");
});

test("a list content contributes the text of each type=text part, in order, skipping others", () => {
  const q = chatQueryText([
    {
      role: "user",
      content: [
        { type: "text", text: "first" },
        { type: "image_url", image_url: { url: "http://x/y.png" } },
        { type: "text", text: "second" },
        { type: "input_audio", text: "not text" },
      ],
    },
  ]);
  assert.equal(q, "first second");
});

test("a missing content contributes an empty piece that still adds one space", () => {
  const q = chatQueryText([
    { role: "user", content: "a" },
    { role: "assistant" },
    { role: "user", content: "b" },
  ]);
  assert.equal(q, "a  b");
});

test("null (tool-call) content and non-string contents are skipped entirely", () => {
  const q = chatQueryText([
    { role: "user", content: "a" },
    { role: "assistant", content: null, tool_calls: [{ id: "1" }] },
    { role: "tool", content: 42 },
    { role: "user", content: "b" },
  ]);
  assert.equal(q, "a b");
});

test("empty string pieces still add one space; only the two ends are trimmed", () => {
  assert.equal(chatQueryText([{ content: "  x " }, { content: "" }, { content: " y  " }]), "x    y");
  assert.equal(chatQueryText([{ content: "" }, { content: "" }]), "");
  assert.equal(chatQueryText([]), "");
});

test("trimming follows Python str.strip (unicode whitespace, not zero-width space)", () => {
  assert.equal(pyStrip("\u00a0\u2003x\u3000\x1c"), "x");
  assert.equal(pyStrip("\u200bx"), "\u200bx");
});

test("a benchmark prompt is a single user message: the trimmed prompt", () => {
  assert.equal(promptQueryText("\n  What is 1+1?\nAnswer: \n"), "What is 1+1?\nAnswer:");
});

test("completion/embedding input: a string as is, a list stringified and space-joined", () => {
  assert.equal(inputQueryText(" hello "), " hello ");
  assert.equal(inputQueryText(["a", "b"]), "a b");
  assert.equal(inputQueryText([1, 2, 3]), "1 2 3");
  assert.equal(inputQueryText([true, null, "x"]), "True None x");
  assert.equal(inputQueryText([["a", "b'"]]), `['a', "b'"]`);
  assert.equal(inputQueryText(undefined), "");
});
