/**
 * The parsing half of the README renderer (markdown.tsx): block structure, the inline token
 * pattern and the link policy. Pure functions without React, so node:test checks them.
 */

export type Block =
  | { kind: "heading"; level: number; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "code"; text: string; language: string }
  | { kind: "list"; ordered: boolean; items: string[] }
  | { kind: "quote"; text: string }
  | { kind: "rule" };

export function parseBlocks(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ kind: "paragraph", text: paragraph.join(" ") });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)/.exec(line);
    if (fence) {
      flush();
      const code: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) code.push(lines[i++]!);
      blocks.push({ kind: "code", text: code.join("\n"), language: fence[2] ?? "" });
      continue;
    }
    if (line.trim() === "") {
      flush();
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: "heading", level: heading[1]!.length, text: heading[2]! });
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      blocks.push({ kind: "rule" });
      continue;
    }
    if (/^ {4}|^\t/.test(line) && paragraph.length === 0) {
      const code: string[] = [];
      while (i < lines.length && (/^ {4}|^\t/.test(lines[i]!) || lines[i]!.trim() === "")) {
        code.push(lines[i]!.replace(/^ {4}|^\t/, ""));
        i++;
      }
      i--;
      blocks.push({ kind: "code", text: code.join("\n").trimEnd(), language: "" });
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const ordered = /\d/.test(item[1]!);
      const items = [item[2]!];
      while (i + 1 < lines.length) {
        const nextLine = lines[i + 1]!;
        const nextItem = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(nextLine);
        if (nextItem && /\d/.test(nextItem[1]!) === ordered) {
          items.push(nextItem[2]!);
        } else if (nextLine.trim() !== "" && /^\s{2,}/.test(nextLine)) {
          items[items.length - 1] += ` ${nextLine.trim()}`;
        } else {
          break;
        }
        i++;
      }
      blocks.push({ kind: "list", ordered, items });
      continue;
    }
    if (/^\s*>/.test(line)) {
      flush();
      const quote: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i]!)) quote.push(lines[i++]!.replace(/^\s*>\s?/, ""));
      i--;
      blocks.push({ kind: "quote", text: quote.join(" ") });
      continue;
    }
    paragraph.push(line.trim());
  }
  flush();
  return blocks;
}

export const INLINE =
  /(`+)([^`]+?)\1|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|!?\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)|<(https?:\/\/[^>\s]+)>/g;

/** Only absolute http(s) links and in-page anchors become links. */
export function safeHref(url: string): string | undefined {
  if (/^https?:\/\//i.test(url) || url.startsWith("#")) return url;
  // Everything else is refused: javascript: and data: URLs, and relative links, which would
  // resolve against the catalogue rather than the project the README belongs to.
  return undefined;
}
