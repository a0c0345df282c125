"""Markdown → HTML for the report: the subset its text and docs/gradients.md use, nothing more.

Blocks: headings (with ids, collected for the table of contents), paragraphs, nested lists, fenced
code, `$$` display math, pipe tables, block quotes, and an image paragraph as a <figure> with the
text under it as caption. Inline: code spans, `$…$` math, **strong**, *emphasis*, images and links.
All text is escaped before any markup is added, so whatever a path or message holds stays text;
a link that leaves the page is shown as its text alone (except a relative link to a run's own
explorer.html, a place to go rather than something loaded), and images go through the `image` callback
(which embeds them), so the page never refers to anything outside itself.
"""

from __future__ import annotations

import html
import re
from typing import Callable

from aelab.report.math import math_html

Image = Callable[[str, str], str]  # (src as written, alt text) → an <img> element
INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>.+?)(?P=code)"
    r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)"
    r"|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|(?<![\\$\w])\$(?=\S)(?P<tex>[^$]+?)(?<=\S)\$(?![\d$])")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ITEM = re.compile(r"^(\s*)([-*]|\d+\.)\s+(.*)$")
SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


LINKED_PAGES = ("explorer.html",)  # pages aelab writes into a run folder, which the report may link to


def sibling_page(href: str) -> bool:
    """A relative link, inside the report's folder, to one of aelab's own pages (`aelab explore`'s): a
    place to go, not something the report loads, so it stays a link; any other link is shown as text."""
    parts = href.split("/")
    return (":" not in href and not href.startswith("/") and ".." not in parts and "\\" not in href
            and parts[-1] in LINKED_PAGES)


class Renderer:
    """One document's rendering: keeps heading ids unique and lists the headings for the contents."""

    def __init__(self, image: Image):
        self.image, self.headings, self.ids = image, [], set()

    def inline(self, text: str) -> str:
        """Escaped text with inline markup; code, math, images and links are set aside first, so that
        emphasis may span them (`**a $x$ b**`) and nothing inside them is read as markup."""
        pieces: list[str] = []

        def hold(m: re.Match) -> str:
            pieces.append(self.token(m))
            return f"\x00{len(pieces) - 1}\x00"

        escaped = html.escape(INLINE.sub(hold, text.replace("\x00", "")), quote=False).replace("\\|", "|")
        marked = emphasis(escaped)
        return re.sub("\x00(\\d+)\x00", lambda m: pieces[int(m[1])], marked)

    def token(self, m: re.Match) -> str:
        if m["code"]:
            return f"<code>{html.escape((m['code_text'].strip() or m['code_text']).replace(chr(92) + '|', '|'))}</code>"
        if m["src"]:
            return self.image(m["src"], m["alt"])
        if m["href"]:
            inner = self.inline(m["text"])
            return f'<a href="{html.escape(m["href"])}">{inner}</a>' if m["href"].startswith("#") or sibling_page(m["href"]) else inner
        return math_html(m["tex"], "inline")

    def heading(self, level: int, text: str) -> str:
        inner = self.inline(text)
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]+>", "", html.unescape(inner)).lower()).strip("-") or "section"
        anchor, n = slug, 2
        while anchor in self.ids:
            anchor, n = f"{slug}-{n}", n + 1
        self.ids.add(anchor)
        self.headings.append((level, anchor, inner))
        return f'<h{level} id="{anchor}">{inner}</h{level}>'

    def render(self, lines: list[str], tight: bool = False) -> str:
        """HTML of a list of lines (a document, or the inside of a list item or quote)."""
        out, i = [], 0
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                i += 1
            elif stripped.startswith("```"):
                end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith("```")), len(lines))
                out.append(f"<pre><code>{html.escape(chr(10).join(lines[i + 1:end]))}</code></pre>")
                i = end + 1
            elif stripped.startswith("$$"):
                end = i if stripped.endswith("$$") and len(stripped) > 2 else next(
                    (j for j in range(i + 1, len(lines)) if lines[j].strip().endswith("$$")), len(lines) - 1)
                out.append(math_html(" ".join(lines[i:end + 1]).strip()[2:-2], "display"))
                i = end + 1
            elif HEADING.match(line):
                m = HEADING.match(line)
                out.append(self.heading(len(m[1]), m[2]))
                i += 1
            elif stripped.startswith("|") and i + 1 < len(lines) and SEPARATOR.match(lines[i + 1].strip()):
                end = next((j for j in range(i, len(lines)) if not lines[j].strip().startswith("|")), len(lines))
                out.append(self.table(lines[i:end]))
                i = end
            elif ITEM.match(line):
                i = self.list(lines, i, out)
            elif stripped.startswith(">"):
                end = next((j for j in range(i, len(lines)) if not lines[j].strip().startswith(">")), len(lines))
                inner = [re.sub(r"^\s*>\s?", "", x) for x in lines[i:end]]
                out.append(f"<blockquote>{self.render(inner)}</blockquote>")
                i = end
            else:
                end = i + 1
                while end < len(lines) and lines[end].strip() and not starts_block(lines[end]):
                    end += 1
                out.append(self.paragraph(" ".join(x.strip() for x in lines[i:end]), tight))
                i = end
        return "\n".join(side_by_side(out))

    def paragraph(self, text: str, tight: bool) -> str:
        m = re.match(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*(.*)$", text)
        if m:  # an image paragraph: a figure, the text after the image its caption
            caption = f"<figcaption>{self.inline(m[3])}</figcaption>" if m[3] else ""
            return f"<figure>{self.image(m[2], m[1])}{caption}</figure>"
        return self.inline(text) if tight else f"<p>{self.inline(text)}</p>"

    def table(self, rows: list[str]) -> str:
        cells = [split_row(r) for r in rows]
        aligns = ["right" if c.endswith(":") and not c.startswith(":") else "center" if c.startswith(":") and c.endswith(":")
                  else "" for c in cells[1]]

        def row(values: list[str], tag: str) -> str:
            return "<tr>" + "".join(f'<{tag}{f" class={chr(34)}{a}{chr(34)}" if a else ""}>{self.inline(v)}</{tag}>'
                                    for v, a in zip(values, aligns + [""] * len(values))) + "</tr>"

        body = "".join(row(r, "td") for r in cells[2:])
        return f'<div class="table"><table><thead>{row(cells[0], "th")}</thead><tbody>{body}</tbody></table></div>'

    def list(self, lines: list[str], i: int, out: list[str]) -> int:
        """Render the list starting at line i into `out`; returns the index after it.

        An item holds the lines indented past its marker (dedented to its content column) and
        lazy continuation lines; a blank line inside or between items makes the list loose (<p>s).
        """
        first = ITEM.match(lines[i])
        indent, ordered = len(first[1]), first[2][0].isdigit()
        items, loose = [], False
        while i < len(lines):
            m = ITEM.match(lines[i])
            if not m or len(m[1]) != indent or m[2][0].isdigit() != ordered:
                break
            width, body, i = len(m[0]) - len(m[3]), [m[3]], i + 1
            while i < len(lines):
                line = lines[i]
                if not line.strip():
                    after = next_nonblank(lines, i)
                    if after is None or indentation(lines[after]) <= indent:
                        break
                    body.append("")
                elif indentation(line) > indent:
                    body.append(line[width:] if not line[:width].strip() else line.strip())
                elif not starts_block(line) and body[-1].strip():
                    body.append(line.strip())  # a lazy continuation line
                else:
                    break
                i += 1
            items.append(body)
            loose = loose or "" in body
            after = next_nonblank(lines, i)
            if after is not None and after > i:  # blank lines: the list goes on only with a sibling item
                sibling = ITEM.match(lines[after])
                if not sibling or len(sibling[1]) != indent:
                    break
                loose, i = True, after
        tag = "ol" if ordered else "ul"
        out.append(f"<{tag}>" + "".join(f"<li>{self.render(body, tight=not loose)}</li>" for body in items) + f"</{tag}>")
        return i


def side_by_side(blocks: list[str]) -> list[str]:
    """Consecutive tables share a row (a flex box that wraps), e.g. a run's metrics beside its epochs."""
    out: list[str] = []
    for block in blocks:
        if block.startswith('<div class="table">') and out and out[-1].startswith('<div class="table">'):
            out[-1] = out[-1] + block
        elif block.startswith('<div class="table">') and out and out[-1].startswith('<div class="tables">'):
            out[-1] = out[-1][:-len("</div>")] + block + "</div>"
        else:
            out.append(block)
            continue
        if not out[-1].startswith('<div class="tables">'):
            out[-1] = f'<div class="tables">{out[-1]}</div>'
    return out


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def next_nonblank(lines: list[str], i: int) -> int | None:
    return next((j for j in range(i, len(lines)) if lines[j].strip()), None)


def starts_block(line: str) -> bool:
    s = line.strip()
    return bool(HEADING.match(line) or ITEM.match(line) or s.startswith(("```", "$$", "|", ">")))


def split_row(row: str) -> list[str]:
    """The cells of a pipe-table row; `\\|` is a literal pipe inside a cell."""
    text = row.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [part.strip() for part in re.split(r"(?<!\\)\|", text)]


def emphasis(escaped: str) -> str:
    """**strong** and *emphasis* on already escaped text."""
    escaped = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"(?<![\*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\*\w])", r"<em>\1</em>", escaped)


def render(markdown: str, image: Image) -> tuple[str, list[tuple[int, str, str]]]:
    """(HTML body, headings as (level, id, inner HTML)) of a Markdown document."""
    renderer = Renderer(image)
    return renderer.render(markdown.splitlines()), renderer.headings
