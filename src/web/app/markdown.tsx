/**
 * A small Markdown renderer for README text, producing React elements (never HTML strings, so
 * nothing in a README can inject markup or script). Covers what READMEs use: headings,
 * paragraphs, lists, fenced and indented code, block quotes, rules, inline code, emphasis and
 * links (http, https and relative only). Headings are shifted below the section heading that
 * holds the README, and never skip a level.
 */
import type { ReactNode } from "react";
import { INLINE, parseBlocks, safeHref } from "./markdown-parse.ts";

export function renderInline(text: string, keyPrefix = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let n = 0;
  for (const match of text.matchAll(INLINE)) {
    const index = match.index ?? 0;
    if (index > last) out.push(text.slice(last, index));
    const key = `${keyPrefix}-${n++}`;
    if (match[2] !== undefined) out.push(<code key={key}>{match[2]}</code>);
    else if (match[3] !== undefined || match[4] !== undefined)
      out.push(<strong key={key}>{renderInline(match[3] ?? match[4]!, key)}</strong>);
    else if (match[5] !== undefined || match[6] !== undefined)
      out.push(<em key={key}>{renderInline(match[5] ?? match[6]!, key)}</em>);
    else if (match[8] !== undefined) {
      const url = safeHref(match[8]);
      const label = match[7] || match[8];
      // Images are shown as links: the catalogue loads nothing from other origins.
      out.push(
        url ? (
          <a key={key} href={url} rel="noopener noreferrer nofollow" target="_blank">
            {renderInline(label, key)}
          </a>
        ) : (
          <span key={key}>{label}</span>
        ),
      );
    } else if (match[9] !== undefined) {
      out.push(
        <a key={key} href={match[9]} rel="noopener noreferrer nofollow" target="_blank">
          {match[9]}
        </a>,
      );
    }
    last = index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** `baseLevel`: the level of the heading that holds the README (its headings start one below). */
export function Markdown({ source, baseLevel = 2 }: { source: string; baseLevel?: number }) {
  const blocks = parseBlocks(source);
  let previous = baseLevel;
  return (
    <div className="markdown">
      {blocks.map((block, i) => {
        const key = `b${i}`;
        switch (block.kind) {
          case "heading": {
            const level = Math.min(
              6,
              Math.max(baseLevel + 1, Math.min(block.level + baseLevel, previous + 1)),
            );
            previous = level;
            const Tag = `h${level}` as "h3";
            return <Tag key={key}>{renderInline(block.text, key)}</Tag>;
          }
          case "paragraph":
            return <p key={key}>{renderInline(block.text, key)}</p>;
          case "code":
            return (
              // biome-ignore lint/a11y/noNoninteractiveTabindex: wide code scrolls sideways; keyboard users must reach it
              <pre key={key} tabIndex={0}>
                <code>{block.text}</code>
              </pre>
            );
          case "list": {
            const List = block.ordered ? "ol" : "ul";
            return (
              <List key={key}>
                {block.items.map((item, j) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: items are static text in source order
                  <li key={j}>{renderInline(item, `${key}-${j}`)}</li>
                ))}
              </List>
            );
          }
          case "quote":
            return <blockquote key={key}>{renderInline(block.text, key)}</blockquote>;
          case "rule":
            return <hr key={key} />;
          default:
            return null;
        }
      })}
    </div>
  );
}
