"""Small builders of Markdown text: code spans, tables, figures, demoted documents.

The report is written once, as Markdown, and the HTML page is rendered from that same text, so the
two can never say different things. Anything that came from outside (paths, messages, data sources)
goes through `code()`, which keeps it literal in Markdown; the HTML renderer escapes all text.
"""

from __future__ import annotations

import re

DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
MODEL_TITLES = {
    "shallow": "Shallow autoencoder",
    "deep": "Deep autoencoder",
    "denoising": "Denoising autoencoder",
    "sparse": "Sparse autoencoder",
}


def dataset_title(name: str | None) -> str:
    return DATASET_TITLES.get(name or "", name or "")


def code(text: object) -> str:
    """`text` as a Markdown code span, literal whatever it holds (backticks, $, *, |, newlines)."""
    text = " ".join(str(text).split("\n"))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: object) -> str:
    """A table cell: pipes escaped, one line."""
    return " ".join(str(text).split("\n")).replace("|", "\\|")


def table(header: list[str], rows: list[list[object]], align: str | None = None) -> list[str]:
    """A Markdown table; `align` holds one of l, r, c per column (default: all left)."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    align = align or "l" * len(header)
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def figure(path: str, alt: str, caption: str) -> list[str]:
    """An image with its caption right under it (one paragraph: the HTML turns it into a <figure>)."""
    return [f"![{alt}]({path})", f"*{caption}*", ""]


def number(value, fmt: str) -> str:
    """A formatted number, or an en dash where the folder holds none."""
    return "–" if value is None else format(value, fmt)


def body_of(markdown: str, shift: int) -> list[str]:
    """A Markdown document without its title (first "# " line) and images, headings moved down `shift` levels."""
    lines, fenced, titled = [], False, False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and not titled and line.startswith("# "):
            titled = True
            continue
        elif not fenced and re.match(r"^!\[[^\]]*\]\([^)]*\)\s*$", line):
            continue
        elif not fenced and re.match(r"^#{1,6} ", line):
            line = "#" * shift + line
        lines.append(line)
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines + [""]
