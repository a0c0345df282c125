"""Markdown → HTML for the report: markdown-it-py parses, a small renderer here writes the HTML.

Why markdown-it-py: it is a CommonMark parser (with GFM tables, and `$…$`/`$$…$$` math from
mdit-py-plugins' dollarmath), so nested lists, emphasis, code spans and backslash escapes follow a
specification rather than a page of regular expressions that handle only the cases someone tried.

What is our own is the rendering, one small function per node of markdown-it's syntax tree, because
the page must stay closed and self-contained:
- raw HTML is off in the parser and every text is escaped, so whatever a path or message holds stays text;
- math goes through `math_html` (TeX → PNG, offline) rather than to a script that typesets it in the browser;
- images go through the `image` callback (which embeds them), and a paragraph that starts with an image
  is a <figure> with the rest of the paragraph as its caption;
- a link that leaves the page is shown as its text alone, except a `#` anchor and a relative link to a
  run's own explorer.html (`sibling_page`: a place to go rather than something loaded);
- headings get unique ids and are collected for the table of contents;
- table cells carry their alignment as a class (the page's CSP forbids inline styles), each table sits in a
  scrolling box, and consecutive tables share a row;
- a soft line break is a space, and nothing is added between inline elements, so the text reads as written.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.dollarmath import dollarmath_plugin

from aelab.report.math import math_html

Image = Callable[[str, str], str]  # (the image's path, alt text) → an <img> element
Heading = tuple[int, str, str]  # (level, id, inner HTML)

# Indented code is off: in the report's text an indent only ever continues a list item. `$` math needs no
# space inside its dollars and no digit outside them, so "costs $5 and $6" stays text.
PARSER = (
    MarkdownIt("commonmark", {"html": False})
    .enable("table")
    .disable("code")
    .use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False)
)
BLOCKS = ("list_item", "blockquote")  # nodes whose children are blocks, one per line
LINKED_PAGES = ("explorer.html",)  # pages aelab writes into a run folder, which the report may link to


def sibling_page(href: str) -> bool:
    """A relative link, inside the report's folder, to one of aelab's own pages (`aelab explore`'s): a
    place to go, not something the report loads, so it stays a link; any other link is shown as text."""
    parts = href.split("/")
    return (
        ":" not in href
        and not href.startswith("/")
        and ".." not in parts
        and "\\" not in href
        and parts[-1] in LINKED_PAGES
    )


def text(content: str) -> str:
    return html.escape(content, quote=False)


class Renderer:
    """One document's rendering: keeps heading ids unique and lists the headings for the contents."""

    def __init__(self, image: Image):
        self.image, self.headings, self.ids = image, [], set()
        self.rules: dict[str, Callable[[SyntaxTreeNode], str]] = {
            "text": lambda node: text(node.content),
            "softbreak": lambda node: " ",
            "hardbreak": lambda node: "<br>",
            "code_inline": lambda node: f"<code>{text(node.content)}</code>",
            "fence": lambda node: f"<pre><code>{text(node.content.removesuffix(chr(10)))}</code></pre>",
            "math_inline": lambda node: math_html(node.content, "inline"),
            "math_block": lambda node: math_html(node.content.strip(), "display"),
            "hr": lambda node: "<hr>",
            "heading": self.heading,
            "paragraph": self.paragraph,
            "image": self.embed,
            "link": self.link,
            "table": self.table,
            "th": self.cell,
            "td": self.cell,
            "root": lambda node: "\n".join(self.side_by_side(node.children)),
        }

    def html(self, node: SyntaxTreeNode) -> str:
        return self.rules.get(node.type, self.container)(node)

    def inner(self, node: SyntaxTreeNode) -> str:
        return "".join(self.html(child) for child in node.children)

    def container(self, node: SyntaxTreeNode) -> str:
        """Lists, items, quotes, emphasis, table rows: the node's tag around its children."""
        inner = "\n".join(self.side_by_side(node.children)) if node.type in BLOCKS else self.inner(node)
        start = f' start="{node.attrs["start"]}"' if "start" in node.attrs else ""  # an ordered list not starting at 1
        return f"<{node.tag}{start}>{inner}</{node.tag}>" if node.tag else inner

    def side_by_side(self, nodes: list[SyntaxTreeNode]) -> list[str]:
        """Blocks, consecutive tables sharing a row (a flex box that wraps), e.g. a run's metrics beside its epochs."""
        out: list[str] = []
        for is_table, group in itertools.groupby(nodes, key=lambda node: node.type == "table"):
            blocks = [self.html(node) for node in group]
            out += [f'<div class="tables">{"".join(blocks)}</div>'] if is_table and len(blocks) > 1 else blocks
        return out

    def heading(self, node: SyntaxTreeNode) -> str:
        level, inner = int(node.tag[1:]), self.html(node.children[0])
        slug = re.sub(r"[^a-z0-9]+", "-", html.unescape(re.sub(r"<[^>]+>", "", inner)).lower()).strip("-") or "section"
        anchor, n = slug, 2
        while anchor in self.ids:
            anchor, n = f"{slug}-{n}", n + 1
        self.ids.add(anchor)
        self.headings.append((level, anchor, inner))
        return f'<h{level} id="{anchor}">{inner}</h{level}>'

    def paragraph(self, node: SyntaxTreeNode) -> str:
        parts = [child for child in node.children[0].children if child.type != "text" or child.content]
        if parts and parts[0].type == "image":  # an image paragraph: a figure, the text after the image its caption
            caption = "".join(self.html(part) for part in parts[1:]).strip()
            caption = f"<figcaption>{caption}</figcaption>" if caption else ""
            return f"<figure>{self.html(parts[0])}{caption}</figure>"
        inner = self.html(node.children[0])
        return inner if node.hidden else f"<p>{inner}</p>"  # hidden: a paragraph of a tight list item

    def embed(self, node: SyntaxTreeNode) -> str:
        return self.image(unquote(node.attrs["src"]), node.content)  # markdown-it percent-encodes the path

    def link(self, node: SyntaxTreeNode) -> str:
        href = str(node.attrs["href"])
        kept = href.startswith("#") or sibling_page(href)
        return f'<a href="{html.escape(href)}">{self.inner(node)}</a>' if kept else self.inner(node)

    def table(self, node: SyntaxTreeNode) -> str:
        return f'<div class="table"><table>{self.inner(node)}</table></div>'

    def cell(self, node: SyntaxTreeNode) -> str:
        align = str(node.attrs.get("style", "")).removeprefix("text-align:")
        attribute = f' class="{align}"' if align in ("right", "center") else ""  # left is the default
        return f"<{node.tag}{attribute}>{self.inner(node)}</{node.tag}>"


def render(markdown: str, image: Image) -> tuple[str, list[Heading]]:
    """(HTML body, headings as (level, id, inner HTML)) of a Markdown document."""
    renderer = Renderer(image)
    return renderer.html(SyntaxTreeNode(PARSER.parse(markdown))), renderer.headings
