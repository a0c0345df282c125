"""report.html: the report as ONE self-contained page — figures inlined, CSS inline, no network at all.

It is rendered from the same Markdown as report.md (see `markdown.report_markdown`), so the two
say the same thing. Figures become base64 PNG data URIs read from the run folders; a Content
Security Policy forbids every request that is not a data: image, so even a stray URL could not
reach the network. The file can be mailed, archived or opened offline and still shows everything.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path

from aelab.fileio import atomic_write_text
from aelab.report.markdown import report_markdown
from aelab.report.mdhtml import render

REPORT_HTML = "report.html"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --fg: #1f2430; --muted: #5c6577; --accent: #1f5fbf; --line: #dfe3ea; --soft: #f5f7fa; --code: #f1f3f6; }
* { box-sizing: border-box; }
html { font-size: 17px; -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.6;
       font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial,
         sans-serif; }
main { max-width: 54rem; margin: 0 auto; padding: 2.5rem 1.5rem 5rem; }
h1 { font-size: 2.1rem; line-height: 1.2; margin: 0 0 1rem; letter-spacing: -0.01em; }
h2 { font-size: 1.55rem; line-height: 1.25; margin: 3.2rem 0 1rem; padding-bottom: .35rem;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 1.22rem; margin: 2.4rem 0 .6rem; }
h4 { font-size: 1.02rem; margin: 1.8rem 0 .4rem; color: var(--muted); }
p, ul, ol { margin: .7rem 0; }
li { margin: .25rem 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .86em;
       background: var(--code); padding: .08em .32em; border-radius: 4px; overflow-wrap: anywhere; }
pre { background: var(--code); padding: .8rem 1rem; border-radius: 6px; overflow-x: auto; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: .84rem; overflow-wrap: normal; }
blockquote { margin: 1.4rem 0; padding: .6rem 1rem; background: #fff7e0; border-left: 4px solid #e3a500;
             border-radius: 0 6px 6px 0; }
.table { overflow-x: auto; margin: 1rem 0 1.4rem; max-width: 100%; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.2rem; align-items: flex-start; }
table { border-collapse: collapse; font-size: .84rem; font-variant-numeric: tabular-nums; }
th, td { padding: .34rem .65rem; border-bottom: 1px solid var(--line); text-align: left; }
th { background: var(--soft); font-weight: 600; border-bottom: 2px solid var(--line); vertical-align: bottom; }
td { white-space: nowrap; vertical-align: top; }
td code { overflow-wrap: normal; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.right { text-align: right; } .center { text-align: center; }
figure { margin: 1.6rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .45rem; text-align: center; }
.equation { display: flex; align-items: center; justify-content: center; gap: 2.5rem; margin: 1.1rem 0;
            overflow-x: auto; }
.equation .tag { color: var(--muted); }
img.math { display: inline; }
code.tex { background: none; color: var(--muted); }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1.4rem;
          margin: 1.8rem 0 1rem; }
nav.toc h2 { font-size: 1rem; margin: 0 0 .4rem; padding: 0; border: 0; text-transform: uppercase;
             letter-spacing: .05em; color: var(--muted); }
nav.toc ol { margin: 0; padding-left: 1.3rem; }
nav.toc > ol > li { margin: .3rem 0; font-weight: 600; }
nav.toc ol ol { columns: 2; column-gap: 2rem; font-weight: 400; font-size: .92rem; padding-left: 1rem; }
nav.toc ol ol li { margin: .1rem 0; break-inside: avoid; }
.missing { color: #b42318; }
@media (max-width: 40rem) { html { font-size: 15px; } nav.toc ol ol { columns: 1; } }
@media print { main { max-width: none; } nav.toc { break-after: page; } figure, table { break-inside: avoid; } }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def embedder(root: Path):
    """The image callback: a file under `root` as a data URI; anything else is named, not fetched."""

    def image(src: str, alt: str) -> str:
        path = (root / src).resolve()
        inside = not Path(src).is_absolute() and ".." not in Path(src).parts and ":" not in src
        if not inside or path.suffix.lower() != ".png" or not path.is_file():
            return f'<span class="missing">[figure not found: {html.escape(src)}]</span>'
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" loading="eager">'

    return image


def contents(headings: list[tuple[int, str, str]]) -> str:
    """The table of contents: the h2 sections, each with its h3 subsections."""
    groups: list[tuple[str, list[str]]] = []
    for level, anchor, inner in headings:
        link = f'<a href="#{anchor}">{inner}</a>'
        if level == 2:
            groups.append((link, []))
        elif level == 3 and groups:
            groups[-1][1].append(link)
    items = "".join(
        f"<li>{link}" + (f"<ol>{''.join(f'<li>{s}</li>' for s in subs)}</ol>" if subs else "") + "</li>"
        for link, subs in groups
    )
    return f'<nav class="toc"><h2>Contents</h2><ol>{items}</ol></nav>'


def report_html(study: dict) -> str:
    """The page's full text, figures read from the folders under study["out"]."""
    body, headings = render(report_markdown(study), embedder(Path(study["out"])))
    first_h2 = body.find("<h2")
    toc = contents([h for h in headings if h[0] in (2, 3)])
    body = body + toc if first_h2 < 0 else body[:first_h2] + toc + "\n" + body[first_h2:]
    title = next((inner for level, _, inner in headings if level == 1), "aelab report")
    plain = html.escape(html.unescape(re.sub(r"<[^>]+>", "", title)))
    return PAGE.format(csp=CSP, title=plain, css=CSS.strip(), body=body)


def write_html(out: str | os.PathLike, study: dict) -> Path:
    return atomic_write_text(Path(out) / REPORT_HTML, report_html(study))
