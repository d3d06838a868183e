"""The studio in a real browser: Debian's headless Chromium driven by Playwright against `gankit studio` started
in a subprocess. Skipped (with the reason) where /usr/bin/chromium or the playwright package is missing; nothing is
downloaded. Screenshots go to a temporary folder (printed with -s) as artefacts of the run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing (pip install playwright)")
pytest.importorskip("starlette", reason="gankit studio needs pip install 'gankit[studio]'")

from gankit.cli import main  # noqa: E402
from helpers import free_port  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("studio-screenshots")
    print(f"\nstudio screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`gankit studio` on a free port, serving a folder with one tiny ring8 run (4 steps, a grid every 2)."""
    runs = tmp_path_factory.mktemp("studio-browser") / "runs"
    assert main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "4", "--batch-size", "16",
                 "--log-every", "2", "--sample-every", "2", "--no-progress", "--out", str(runs / "ring8")]) == 0
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "studio", "--runs", str(runs), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        t0 = time.monotonic()
        while not _listening(port):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() - t0 < 60, "the studio did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page that records script errors; the test fails if any occurred."""
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    pg.close()
    assert not errors, errors


# the fraction of a canvas's pixels that differ from its first pixel: 0 for a blank (or flat) canvas
INK = """(id) => { const c = document.getElementById(id), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] !== d[0] || d[i+1] !== d[1] || d[i+2] !== d[2] || d[i+3] !== d[3]) n++;
  return n / (d.length / 4); }"""


def test_lab_trains_ring8_until_modes_appear_then_pauses_and_takes_a_new_rate(server, page, shots):
    page.goto(server + "/lab")
    page.wait_for_function("() => window.studio && window.studio.frames > 0")
    page.select_option("#dataset", "ring8")
    page.fill("#lr_g", "0.002")
    page.fill("#lr_d", "0.002")
    page.click("#reset")
    page.wait_for_function("() => document.getElementById('stepno').textContent === '0'")
    page.click("#start")
    # the count the page shows comes from gankit's mode protocol on 2,500 samples of the training G
    page.wait_for_function("() => parseInt(document.getElementById('modes').textContent) > 1", timeout=90_000)
    page.screenshot(path=str(shots / "lab-ring8.png"))
    page.click("#pause")
    page.wait_for_function("() => document.getElementById('status').textContent === 'paused'")
    page.fill("#lr_g", "0.0005")
    page.dispatch_event("#lr_g", "change")
    settings = "() => fetch('/api/lab/state').then(r => r.json()).then(s => s.settings.lr_g)"
    t0 = time.monotonic()
    while page.evaluate(settings) != 0.0005:  # the page posts the change; the server's state shows it
        assert time.monotonic() - t0 < 10, "the new learning rate did not reach the trainer"
        time.sleep(0.1)
    step = int(page.text_content("#stepno"))
    page.click("#step")
    page.wait_for_function(f"() => parseInt(document.getElementById('stepno').textContent) === {step + 1}")
    assert page.evaluate(INK, "heat") > 0.3  # D's heat map covers the plane
    assert page.evaluate(INK, "arrows") > 0.005  # samples and G's gradient arrows
    assert page.evaluate(INK, "loss-chart") > 0.01
    assert page.evaluate("window.studio.frames") > 5


def test_run_page_curves_hover_and_the_sample_slider(server, page, shots):
    page.goto(server + "/runs")
    page.click("a.run-link")
    page.wait_for_url("**/run?run=ring8")
    page.wait_for_function("() => document.querySelector('.sample-img') && document.querySelector('.sample-img').complete "
                           "&& document.querySelector('.sample-img').naturalWidth > 0")
    assert page.get_attribute(".sample-img", "data-step") == "4"  # the newest grid first
    page.focus(".sample-slider")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.querySelector('.sample-img').dataset.step === '2'")
    page.wait_for_function("() => document.querySelector('.sample-img').naturalWidth > 0")
    box = page.locator(".loss-chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    assert page.get_attribute(".loss-chart", "data-hover").startswith("step 4; D loss")
    assert "healthy" in page.text_content(".verdict")
    page.screenshot(path=str(shots / "run.png"), full_page=True)
    page.goto(server + "/compare?a=ring8&b=ring8")
    page.wait_for_function("() => document.querySelectorAll('.run-panel').length === 2 && "
                           "[...document.querySelectorAll('.sample-img')].every(i => i.naturalWidth > 0)")


def test_explore_samples_interpolates_and_offers_a_png(server, page, shots):
    page.goto(server + "/explore")
    page.wait_for_function("() => !document.getElementById('points').classList.contains('hidden')")
    assert page.evaluate(INK, "points") > 0.005
    page.check("#pin")
    page.wait_for_function("() => document.getElementById('download').href.startsWith('data:image/png')")
    page.fill("#b", "7")
    page.click("#interp")
    page.wait_for_function("() => !document.getElementById('walk-points').classList.contains('hidden')")
    assert page.evaluate(INK, "walk-points") > 0.001
    assert page.get_attribute("#download-walk", "href").startswith("data:image/png")
    page.screenshot(path=str(shots / "explore.png"))
