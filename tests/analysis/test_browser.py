"""report.html in headless Chromium: every figure loads, no script or resource errors, the page is not blank.

A copy of the report gets a small probe script: it records errors (scripts and failed resources) from the
first byte, and on `load` writes a marker with the number of images decoded (naturalWidth > 0) into the DOM,
which `--dump-dom` prints. A separate `--screenshot` run checks the rendered page has content.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's headless chromium: apt-get install -y chromium"
    ),
]

PROBE_HEAD = (
    "<script>window.__errors = []; window.addEventListener('error', e => window.__errors.push("
    "String(e.message || (e.target && (e.target.src || e.target.href)))), true);</script>"
)
PROBE_BODY = """<script>
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  const marker = document.createElement('pre');
  marker.id = 'probe';
  const errors = window.__errors;
  marker.textContent = `images ${loaded}/${images.length} errors ${errors.length}: ${errors}`;
  document.body.appendChild(marker);
});
</script>"""


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.parametrize("which", ["small_report", "ladder_report"])  # the latter with the new sections
def test_report_loads_every_figure_without_errors(which, tmp_path, request):
    report = request.getfixturevalue(which)
    html = (report / "report.html").read_text()
    probed = html.replace("<head>", "<head>" + PROBE_HEAD, 1).replace("</body>", PROBE_BODY + "</body>", 1)
    page = tmp_path / "report.html"
    page.write_text(probed)
    n_figures = len(list((report / "figures").glob("*.png")))
    result = _chromium(
        tmp_path,
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    )
    marker = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert marker, f"the probe did not run; chromium stderr:\n{result.stderr[-2000:]}"
    assert marker.group(1).startswith(f"images {n_figures}/{n_figures} errors 0"), marker.group(1)
    console_errors = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console_errors == []


def test_report_screenshot_is_not_blank(small_report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    result = _chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", (small_report / "report.html").as_uri()
    )
    assert shot.is_file(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (4000, 1280)
    assert pixels.std() > 10  # text, tables and figures, not a white page
    assert (pixels < 128).mean() > 0.01
    rows_with_ink = (pixels < 200).any(axis=1).mean()
    assert rows_with_ink > 0.3  # content runs down the page, not only a heading
