"""A dependency-free HTML rendering of the Markdown subset the report writes: headings, pipe
tables, images, fenced code (``` or ~~~, closed by a bare fence), bullet lists, paragraphs, and
inline ``code``, **bold**, *italic* and [links](url). Everything is escaped first; only those forms become tags."""

from __future__ import annotations

import html
import re

__all__ = ["markdown_to_html"]

_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
          "pre{background:#f6f8fa;padding:8px;overflow-x:auto}code{background:#f6f8fa}img{max-width:100%}")


def _inline(text: str) -> str:
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part, quote=False)
        s = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                   lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>'
                   if m.group(2).startswith(("http://", "https://", "#")) or ":" not in m.group(2) else m.group(0), s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", s)
        out.append(s)
    return "".join(out)


def _cells(row: str) -> list[str]:
    # Split on pipes outside inline code, so a `a|b` cell stays whole.
    cells, buf, code = [], "", False
    for ch in row.strip().strip("|"):
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(buf)
            buf = ""
        else:
            buf += ch
    cells.append(buf)
    return [c.strip() for c in cells]


def markdown_to_html(title: str, markdown: str, head: str = "") -> str:
    """The page for ``markdown``; ``head`` is trusted markup put in ``<head>`` as is (the report's own
    stylesheet and scripts, never user text)."""
    body: list[str] = []
    table: list[str] = []
    items: list[str] = []
    code: list[str] | None = None
    fence = ""

    def flush() -> None:
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-", ":", " "}]
            head = "".join(f"<th>{_inline(c)}</th>" for c in _cells(rows[0]))
            rest = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if code is not None:
            if line.strip() == fence:
                body.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        if line.startswith(("```", "~~~")):
            flush()
            fence, code = line[:3], []
        elif line.startswith("|"):
            table.append(line)
        elif line.startswith("- "):
            if table:
                flush()
            items.append(line[2:])
        else:
            flush()
            if line.startswith("#"):
                level = len(line) - len(line.lstrip("#"))
                body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
            elif m := re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line.strip()):
                body.append(f'<img src="{html.escape(m.group(2))}" alt="{html.escape(m.group(1))}">')
            elif line.strip():
                body.append(f"<p>{_inline(line)}</p>")
    if code is not None:
        body.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
    flush()
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style>{head}</head><body>{''.join(body)}</body></html>\n")
