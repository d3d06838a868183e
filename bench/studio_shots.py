"""The screenshots of docs/studio.md: the lab training ring8, a run's page and the explorer, taken with Debian's
headless Chromium through playwright against a `gankit studio` subprocess.

    python bench/studio_shots.py --runs RUNS --run NAME [--lab-steps 1500] [--out docs/studio]

RUNS holds the run shown on the run page and in the explorer (NAME, e.g. a conditional mnist5k run trained with
--sample-every so the slider has frames). The lab trains ring8 (default settings, lr 2e-3); its picture is taken while it
trains, past --lab-steps steps. Pictures are scaled to 1000 px wide and stored as palette PNGs to stay small.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _save(png: bytes, path: Path, width: int = 1000) -> None:
    im = Image.open(io.BytesIO(png)).convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
    im.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1024} KiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", required=True)
    ap.add_argument("--run", required=True, help="run folder name under --runs")
    ap.add_argument("--lab-steps", type=int, default=1500)
    ap.add_argument("--out", default="docs/studio")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gankit", "studio", "--runs", args.runs, "--port", str(port)],
                              stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        time.sleep(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            for _ in range(300):
                try:
                    page.goto(base + "/lab")
                    break
                except Exception:  # the server is still importing torch
                    time.sleep(0.2)
            page.wait_for_function("() => window.studio && window.studio.frames > 0")
            page.fill("#lr_g", "0.002")
            page.fill("#lr_d", "0.002")
            page.click("#reset")
            page.wait_for_function("() => document.getElementById('stepno').textContent === '0'")
            page.click("#start")
            page.wait_for_function(f"() => parseInt(document.getElementById('stepno').textContent) >= {args.lab_steps}",
                                   timeout=600_000)
            time.sleep(1.5)  # the page's updates/s counter covers a second of training
            _save(page.screenshot(), out / "lab.png")  # while it trains
            page.click("#pause")
            page.goto(f"{base}/run?run={args.run}")
            page.wait_for_function("() => document.querySelector('.sample-img') && "
                                   "document.querySelector('.sample-img').naturalWidth > 0")
            box = page.locator(".loss-chart").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
            _save(page.screenshot(), out / "run.png")
            page.goto(f"{base}/explore?run={args.run}")
            page.wait_for_function("() => document.getElementById('grid').naturalWidth > 0")
            page.fill("#n", "40")
            page.dispatch_event("#n", "change")
            page.wait_for_timeout(1500)
            page.fill("#b", "9")
            page.click("#interp")
            page.wait_for_function("() => document.getElementById('walk').naturalWidth > 0")
            _save(page.screenshot(), out / "explore.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
