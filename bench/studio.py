"""The studio's live lab: how often the page redraws while a toy GAN trains at full speed, and how much an open
page slows the training.

    python bench/studio.py [--seconds 20] [--rounds 3] [--warmup 5] [--dataset ring8] [--out bench/results/studio.json]

One `gankit studio` server (a subprocess, one torch thread) trains the lab's default toy GAN on --dataset without
pause for the whole run. Windows of --seconds alternate, --rounds times, between
- "no client": nobody polls the server; the bench reads only the step counter (/api/lab/status, no frame drawn) at
  the start and end of the window;
- "page open": a headless Chromium (Debian's /usr/bin/chromium through playwright) shows /lab, which polls
  /api/lab/state and draws every answer; the page's own counter of drawn updates (window.studio.frames) is read at
  both ends of the window.
Alternating windows in one run puts both conditions under the same machine load. Targets: at least 5 page updates
per second, and training at most 20 % slower with the page open. On a machine shared with other work the browser's
own drawing competes with the trainer for the cores: the result records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from perf import machine, write_json

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.loads(r.read())


def _post(base: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def _steps(base: str) -> int:
    return int(_get(base, "/api/lab/status")["total_steps"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each measured window")
    ap.add_argument("--rounds", type=int, default=3, help="pairs of windows (no client, page open)")
    ap.add_argument("--warmup", type=float, default=5.0, help="training seconds before the first window")
    ap.add_argument("--dataset", default="ring8", choices=["ring8", "grid25", "swissroll", "gaussian1d"])
    ap.add_argument("--out", default="bench/results/studio.json")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    runs = Path(os.environ.get("TMPDIR", "/tmp")) / f"gankit-bench-studio-{os.getpid()}"
    runs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "gankit", "studio", "--runs", str(runs), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    windows: list[dict[str, Any]] = []
    try:
        t0 = time.monotonic()
        while True:
            try:
                _get(base, "/api/lab/status")
                break
            except OSError:
                if time.monotonic() - t0 > 120 or server.poll() is not None:
                    raise SystemExit("the studio did not start") from None
                time.sleep(0.2)
        _post(base, "/api/lab/reset", {"dataset": args.dataset})
        _post(base, "/api/lab/start", {})
        time.sleep(args.warmup)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for r in range(args.rounds):
                # no client
                s0, t = _steps(base), time.perf_counter()
                time.sleep(args.seconds)
                s1, dt = _steps(base), time.perf_counter() - t
                windows.append({"round": r, "condition": "no client", "seconds": round(dt, 2),
                                "steps_per_s": round((s1 - s0) / dt, 2)})
                # page open: the page draws from its first poll on; count over the window only
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(base + "/lab")
                page.wait_for_function("() => window.studio && window.studio.frames > 2")
                f0, s0, t = page.evaluate("() => window.studio.frames"), _steps(base), time.perf_counter()
                time.sleep(args.seconds)
                f1, s1, dt = page.evaluate("() => window.studio.frames"), _steps(base), time.perf_counter() - t
                page.close()
                windows.append({"round": r, "condition": "page open", "seconds": round(dt, 2),
                                "steps_per_s": round((s1 - s0) / dt, 2), "updates_per_s": round((f1 - f0) / dt, 2)})
                print(json.dumps(windows[-2]), json.dumps(windows[-1]), flush=True)
            browser.close()
        _post(base, "/api/lab/pause", {})
    finally:
        server.terminate()
        server.wait(timeout=30)
        runs.rmdir()

    alone = statistics.mean(w["steps_per_s"] for w in windows if w["condition"] == "no client")
    watched = statistics.mean(w["steps_per_s"] for w in windows if w["condition"] == "page open")
    ups = statistics.mean(w["updates_per_s"] for w in windows if w["condition"] == "page open")
    slowdown = 1 - watched / alone
    result = {
        "machine": {**machine(), "note": "2-core x86_64 CPU shared with other work while measured"},
        "command": "python bench/studio.py " + " ".join(sys.argv[1:]),
        "seeds": [0],
        "setup": {"dataset": args.dataset, "lab": "default LabConfig (vanilla, nonsaturating, lr 1e-3, batch 256)",
                  "window_s": args.seconds, "rounds": args.rounds, "warmup_s": args.warmup,
                  "server_threads": 1, "browser": CHROMIUM + " (headless, playwright)"},
        "windows": windows,
        "summary": {"steps_per_s_no_client": round(alone, 2), "steps_per_s_page_open": round(watched, 2),
                    "slowdown": round(slowdown, 4), "updates_per_s": round(ups, 2),
                    "target_updates_per_s": 5, "target_max_slowdown": 0.2,
                    "updates_ok": ups >= 5, "slowdown_ok": slowdown <= 0.2},
    }
    write_json(args.out, result)
    print(json.dumps(result["summary"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
