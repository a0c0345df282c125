"""explorer.html's text: markup, the inline style and script, the data block, and the policy that allows only them.

The page must open from `file://`, mailed or archived, and stay safe whatever a run folder holds:
- its Content-Security-Policy allows the page's own inline script and style by their SHA-256 hashes
  and `data:` images, and nothing else — no other script runs and nothing is fetched;
- the data (model, images, names) sits in a `<script type="application/json">` block, which is never
  executed, with `<`, `>` and `&` written as JSON escapes so no text inside can close the block;
- the script sets every text from the run folder (paths, class names) as textContent or a title,
  never as HTML, and the <title> is escaped here.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from importlib import resources

SCRIPT = resources.files("aelab.explorer").joinpath("explorer.js").read_text(encoding="utf-8")
STYLE = resources.files("aelab.explorer").joinpath("explorer.css").read_text(encoding="utf-8")
JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})

BODY = """<header>
<h1 id="title"></h1>
<p id="about"></p>
</header>
<main>
<section id="draw-panel">
<h2 id="draw-title">Draw</h2>
<p class="hint" id="draw-hint">\
Draw with the mouse or a finger; the model encodes the drawing and decodes its code, live.</p>
<div class="row">
<figure><canvas id="pad" width="{w}" height="{h}" aria-label="your drawing, the model's input"></canvas>\
<figcaption id="pad-caption">your drawing</figcaption></figure>
<figure id="input-figure"><canvas id="input-view" width="{w}" height="{h}"></canvas>\
<figcaption>the model's input (noisy)</figcaption></figure>
<figure><canvas id="output" width="{w}" height="{h}"></canvas><figcaption>reconstruction</figcaption></figure>
</div>
<div><button id="clear" type="button">clear</button><button id="undo" type="button">undo</button></div>
<div id="noise-controls"></div>
<div id="bars-figure"><div id="bars-axis" aria-hidden="true"></div>\
<canvas id="bars" width="560" height="90" tabindex="0" \
aria-label="the code, one bar per unit: the arrow keys read out each unit's value"></canvas></div>
<p class="hint">The code, one bar per unit from unit 0 on the left, on the scale at its left. \
Hover over a bar, or focus the bars and press ← or →, to read its value:</p>
<p id="bars-value" class="readout-line" aria-live="polite">—</p>
</section>
<section id="thumbnails-panel">
<h2 id="thumbnails-title">Test images</h2>
<p class="hint" id="thumbnails-hint">Click one to load it into the drawing.</p>
<div id="thumbnails"></div>
</section>
<section id="space-panel">
<h2>Code space</h2>
<p class="hint">A point in the code space, decoded. Move it with the sliders, or over the test codes.</p>
<div class="row">
<div id="scatter-block"><canvas id="scatter" width="320" height="320" \
aria-label="the test codes, coloured by class: hover or click to decode a point"></canvas><div id="legend"></div></div>
<figure><canvas id="space-output" width="{w}" height="{h}"></canvas><figcaption>decoded point</figcaption></figure>
</div>
<button id="space-from-drawing" type="button">use the drawing's code</button>
<div id="directions-block"><h2>Principal directions of the test codes</h2><div id="directions"></div></div>
<h2>Code units</h2>
<p class="hint" id="units-note"></p>
<div id="units"></div>
</section>
<section id="interp-panel">
<h2>Interpolation</h2>
<p class="hint" id="interp-hint">\
Pick two images (load each into the drawing, then take it as A or B) and scrub between their codes.</p>
<div class="row">
<figure><canvas id="interp-a" width="{w}" height="{h}"></canvas><figcaption>A</figcaption></figure>
<figure><canvas id="interp-output" width="{w}" height="{h}"></canvas>\
<figcaption>decoded (1 − t)·code(A) + t·code(B)</figcaption></figure>
<figure><canvas id="interp-b" width="{w}" height="{h}"></canvas><figcaption>B</figcaption></figure>
</div>
<div><button id="pick-a" type="button">A ← drawing</button><button id="pick-b" type="button">B ← drawing</button></div>
<div id="interp-controls"></div>
<div id="interp-strip"></div>
</section>
<section id="weights-panel">
<h2>Encoder weights</h2>
<p class="hint" id="weights-hint">\
Each first-layer unit's weights as an image; hover over one to enlarge it.</p>
<div class="row">
<div id="weights"></div>
<figure><canvas id="weights-enlarged" width="{w}" height="{h}"></canvas>\
<figcaption id="weights-unit"></figcaption></figure>
</div>
<p id="weights-scale"></p>
</section>
</main>"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
<script type="application/json" id="explorer-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""


def source_hash(text: str) -> str:
    """A CSP hash source for an inline element's exact text: 'sha256-<base64 digest>'."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode('utf-8')).digest()).decode('ascii')}'"


def policy(script: str, style: str) -> str:
    """Nothing allowed by default; the page's one script and one style by hash; data: images (the favicon)."""
    return (
        f"default-src 'none'; script-src {source_hash(script)}; style-src {source_hash(style)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def data_block(data: dict) -> str:
    """JSON that no text inside can break out of: `<`, `>`, `&` as \\u escapes (JSON.parse reads them back)."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.translate(JSON_ESCAPES)


def explorer_page(data: dict, title: str) -> str:
    """The whole page for `data` (model, meta and content: command.page_data)."""
    width, height = data["view_size"]
    return PAGE.format(
        csp=policy(SCRIPT, STYLE),
        title=html.escape(title),
        style=STYLE,
        script=SCRIPT,
        body=BODY.format(w=width, h=height),
        data=data_block(data),
    )
