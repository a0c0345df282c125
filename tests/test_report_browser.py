"""report.html in a real browser (headless Chromium): it renders, every image loads, the console stays silent.

The page itself has no script. To count loaded images, a copy of it gets a small probe script
(and a policy that allows only that inline script), which marks <body> with the number of images
and of broken ones; Chromium's --dump-dom returns the marked DOM after the load event.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from shared_runs import quick_study

from aelab.report.html import CSP

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  document.body.dataset.images = images.length;
  document.body.dataset.broken = images.filter(img => !img.complete || img.naturalWidth === 0).length;
});
</script>"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="/usr/bin/chromium is missing (apt-get install chromium; CI installs it)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180
    )


def console_lines(stderr: str) -> list[str]:
    """What the page wrote to the console, including policy violations (Chromium logs them as CONSOLE)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory, real_data_dir) -> Path:  # real_data_dir: marks its tests real_data (conftest)
    return quick_study(tmp_path_factory)["out"] / "report.html"


def test_the_report_renders_in_chromium(report, tmp_path):
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 50_000  # a page of text and figures, not a blank one
    assert console_lines(result.stderr) == []


def test_every_image_loads_and_nothing_is_blocked(report, tmp_path):
    page = report.read_text(encoding="utf-8")
    assert CSP in page
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    result = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout)
    images = int(re.search(r'data-images="(\d+)"', body[0])[1])
    assert images == page.count("<img ") and images > 17  # the figures and the typeset formulas
    assert 'data-broken="0"' in body[0]
    assert console_lines(result.stderr) == []
