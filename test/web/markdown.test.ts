/** The README parser (src/web/app/markdown-parse.ts): block structure and the link policy. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INLINE, parseBlocks, safeHref } from "../../src/web/app/markdown-parse.ts";

describe("README markdown", () => {
  it("splits headings, paragraphs, lists, code, quotes and rules", () => {
    const blocks = parseBlocks(
      [
        "# Title",
        "",
        "First line",
        "continues here.",
        "",
        "- one",
        "- two",
        "  wrapped",
        "",
        "1. first",
        "2. second",
        "",
        "```sh",
        "docker run x",
        "",
        "# not a heading",
        "```",
        "> quoted",
        "> more",
        "",
        "---",
        "    indented code",
      ].join("\r\n"),
    );
    assert.deepEqual(blocks, [
      { kind: "heading", level: 1, text: "Title" },
      { kind: "paragraph", text: "First line continues here." },
      { kind: "list", ordered: false, items: ["one", "two wrapped"] },
      { kind: "list", ordered: true, items: ["first", "second"] },
      { kind: "code", text: "docker run x\n\n# not a heading", language: "sh" },
      { kind: "quote", text: "quoted more" },
      { kind: "rule" },
      { kind: "code", text: "indented code", language: "" },
    ]);
  });

  it("keeps an unterminated fence as code to the end", () => {
    assert.deepEqual(parseBlocks("```\nopen"), [{ kind: "code", text: "open", language: "" }]);
  });

  it("links only to http(s) and in-page anchors", () => {
    assert.equal(safeHref("https://example.com/x"), "https://example.com/x");
    assert.equal(safeHref("HTTP://example.com"), "HTTP://example.com");
    assert.equal(safeHref("#usage"), "#usage");
    for (const bad of [
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      "data:text/html,x",
      "vbscript:x",
      "/etc",
      "../x",
    ]) {
      assert.equal(safeHref(bad), undefined, bad);
    }
  });

  it("finds inline code, emphasis and links", () => {
    const tokens = [..."`a` **b** *c* [d](https://e) <https://f>".matchAll(INLINE)].map((m) => m[0]);
    assert.deepEqual(tokens, ["`a`", "**b**", "*c*", "[d](https://e)", "<https://f>"]);
  });
});
