"""The report: well-formed, self-contained HTML whose numbers are the run folders', user strings escaped;
report.md with working relative links; and the Markdown renderer on the constructs the report uses."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from shared_runs import quick_study

from aelab.report.blocks import DATASET_TITLES, code
from aelab.report.collect import collect
from aelab.report.mdhtml import render
from aelab.report.sections import COMPARISON

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
MODELS = ("shallow", "deep", "denoising", "sparse")


class Page(HTMLParser):
    """Checks nesting as it parses, and keeps what the tests look at: tags, attributes, ids, tables by section."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs, self.ids = [], [], [], [], set()
        self.heading, self.tables, self.row, self.cell = None, {}, None, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.attrs.append((tag, attrs))
        self.ids.update([attrs["id"]] if "id" in attrs else [])
        if tag in ("h2", "h3"):
            self.heading = attrs.get("id")
        if tag == "table":
            self.tables.setdefault(self.heading, []).append([])
        if tag == "tr":
            self.row = []
        if tag in ("td", "th"):
            self.cell = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag in ("td", "th"):
            self.row.append(self.cell.strip())
            self.cell = None
        if tag == "tr":
            self.tables[self.heading][-1].append(self.row)

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


@pytest.fixture(scope="module")
def study(tmp_path_factory, real_data_dir) -> dict:  # real_data_dir: marks its tests real_data (conftest)
    study = quick_study(tmp_path_factory)
    return {
        **study,
        "html": (study["out"] / "report.html").read_text(encoding="utf-8"),
        "md": (study["out"] / "report.md").read_text(encoding="utf-8"),
    }


@pytest.fixture(scope="module")
def page(study) -> Page:
    return Page(study["html"])


def test_the_html_is_well_formed(page):
    assert page.errors == [] and page.stack == []
    assert page.tags[:4] == ["html", "head", "meta", "meta"] and page.tags.count("body") == 1


def test_the_html_is_self_contained(page, study):
    for tag, attrs in page.attrs:
        assert tag not in ("script", "link", "iframe", "object", "embed", "base")
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), attrs["src"][:80]
        if "href" in attrs:
            assert attrs["href"].startswith("#") and attrs["href"][1:] in page.ids, attrs["href"]
    assert "url(" not in study["html"] and "@import" not in study["html"]
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|file:)", study["html"], re.I)


def test_every_figure_of_every_run_is_embedded(page, study):
    embedded = {
        base64.b64decode(attrs["src"].split(",", 1)[1])
        for tag, attrs in page.attrs
        if tag == "img" and "math" not in attrs.get("class", "")
    }
    pngs = sorted(study["out"].glob("fashion-mnist/*/*.png"))
    assert len(pngs) == 4 * 4 + 1
    assert {p.read_bytes() for p in pngs} == embedded


def test_the_sections_follow_the_study(page):
    for anchor in (
        "gradients-of-the-simple-autoencoder",
        "the-checks-run-for-this-report",
        "models-on-fashion-mnist",
        *(f"{m}-autoencoder-on-fashion-mnist" for m in MODELS),
        "comparison-of-all-models",
        "code-size-sweep",
        "sweep-on-fashion-mnist",
        "skipped-data-sets",
        "configuration-versions-machine-and-timings",
        "the-backward-pass-one-step-per-equation",
        "grade-your-own-gradients",
    ):
        assert anchor in page.ids
    assert "models-on-mnist" not in page.ids and "sweep-on-mnist" not in page.ids
    checks = page.tables["the-checks-run-for-this-report"][0]
    assert len(checks) == 9 and all(row[-1] == "pass" for row in checks[1:])


def test_the_comparison_table_holds_the_run_folders_numbers(page, study):
    header, *rows = page.tables["comparison-of-all-models"][0]
    assert header == ["data set", "model", *(label for _, label, _ in COMPARISON)]
    assert [row[1] for row in rows] == list(MODELS)
    names = {title: name for name, title in DATASET_TITLES.items()}
    for row in rows:
        metrics = json.loads((study["out"] / names[row[0]] / row[1] / "metrics.json").read_text())
        values = {**metrics["final"], "seconds_training": metrics["seconds_training"]}
        for (key, _, fmt), cell in zip(COMPARISON, row[2:]):
            assert cell == format(values[key], fmt), (row[1], key)


def test_the_sweep_and_its_reading_come_from_sweep_json(page, study):
    sweep = json.loads((study["out"] / "fashion-mnist" / "sweep" / "sweep.json").read_text())
    header, *rows = page.tables["sweep-on-fashion-mnist"][0]
    assert [int(row[0]) for row in rows] == sweep["code_sizes"] == [5, 20]
    for row, entry in zip(rows, sweep["sizes"]):
        assert row[2] == f"{entry['mean']['test_bce_excess']:.4f}" and row[-1] == f"{entry['pca']['test_mse']:.5f}"
    flat = sweep["flattening"]["test_bce_excess"]
    assert f"against {flat['best_value']:.4f} at {flat['best_code_size']} (the best)" in study["md"]


def test_user_strings_are_escaped(page, study):
    text = study["html"]
    assert "<script" not in text.lower() and "<img src=x" not in text
    assert "st&lt;script&gt;udy" in text and "data&lt;img src=x onerror=alert(1)&gt;" in text
    assert [tag for tag, attrs in page.attrs if tag == "img" and not attrs["src"].startswith("data:")] == []


def test_the_skipped_data_set_is_named_with_its_reason(study):
    md = study["md"]
    assert "## Skipped data sets" in md and "- **MNIST**: `data set 'mnist' not found" in md
    assert "| 2 | `mnist/shallow` | no data: skipped |" in md


def test_the_markdown_links_its_figures_beside_it(study):
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", study["md"])
    assert len(links) == 4 * 4 + 1
    assert all(not Path(link).is_absolute() and (study["out"] / link).is_file() for link in links)


def test_collect_reads_the_folders_without_a_manifest(study, tmp_path):
    found = collect(study["out"], manifest={})
    assert [r["name"] for r in found["runs"]] == [
        "gradients",
        *(f"fashion-mnist/{m}" for m in MODELS),
        "fashion-mnist/sweep",
    ]
    assert all(r["finished"] for r in found["runs"]) and found["datasets"] == ["fashion-mnist"]


def rendered(markdown: str) -> str:
    return render(markdown, lambda src, alt: f"[image {src}]")[0]


def test_the_renderer_nests_lists_and_aligns_tables():
    html = rendered("- a\n  continued\n  - inner *em*\n- **b $x$ c**\n\n| k | v |\n|---|---:|\n| `a\\|b` | 1 |\n")
    assert html.startswith("<ul><li>a continued\n<ul><li>inner <em>em</em></li></ul></li><li><strong>b <img")
    assert '<td><code>a|b</code></td><td class="right">1</td>' in html


def test_the_renderer_escapes_and_keeps_the_page_closed():
    html = rendered("<b>x</b> & `<i>` [out](https://example.com) [in](#top) " + code("a`b<c>") + "\n")
    assert html == (
        '<p>&lt;b&gt;x&lt;/b&gt; &amp; <code>&lt;i&gt;</code> out <a href="#top">in</a> <code>a`b&lt;c&gt;</code></p>'
    )


def test_math_that_cannot_be_drawn_stays_as_its_source():
    html = rendered("$\\notacommand{x}$ and $x^2$\n")
    assert (
        '<code class="tex">\\notacommand{x}</code>' in html and '<img class="math" src="data:image/png;base64,' in html
    )


def test_the_engine_table_says_which_step_ran_each_model(page, study):
    """Each run's config.json "engine" record, as the report's Engine table shows it: the compiled step here."""
    header, *rows = page.tables["engine"][0]
    assert header == ["run", "engine", "threads", "BLAS", "instruction set", "fallback"]
    assert len(rows) == len(MODELS) + 1  # the four models and the sweep
    for row in rows:
        assert row[1] == "compiled" and row[3] not in ("", "–") and row[4] and row[5] == "–", row
