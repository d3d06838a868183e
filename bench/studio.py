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
own drawing competes with the trainer for the cores: each window records the load average and the CPU the server
and the browser used (in cores, from /proc).
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


def _cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) used so far by each live process, from /proc (Linux), with its parent."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out  # type: ignore[return-value]


def _tree_cpu(root: int, skip: int) -> tuple[float, dict[int, float]]:
    """CPU seconds of process `skip` (the server), and per process of every other descendant of `root` (the
    browser's processes and playwright's driver)."""
    procs = _cpu_seconds()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():  # type: ignore[misc]
        children.setdefault(ppid, []).append(pid)
    server = procs[skip][1] if skip in procs else 0.0  # type: ignore[index]
    other: dict[int, float] = {}
    todo = [c for c in children.get(root, []) if c != skip]
    while todo:
        pid = todo.pop()
        other[pid] = procs[pid][1]  # type: ignore[index]
        todo += children.get(pid, [])
    return server, other


def _cpu(c0: tuple[float, dict[int, float]], c1: tuple[float, dict[int, float]], dt: float) -> dict[str, float]:
    """CPU use over a window, in cores: the server (trainer thread and requests) and the browser (the processes
    alive at the window's end; a page's renderer closed after it is counted in the next window)."""
    browser = sum(v - c0[1].get(pid, 0.0) for pid, v in c1[1].items())
    return {"server_cpu": round((c1[0] - c0[0]) / dt, 3), "browser_cpu": round(browser / dt, 3)}


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
                s0, t, c0 = _steps(base), time.perf_counter(), _tree_cpu(os.getpid(), server.pid)
                time.sleep(args.seconds)
                s1, dt, c1 = _steps(base), time.perf_counter() - t, _tree_cpu(os.getpid(), server.pid)
                windows.append({"round": r, "condition": "no client", "seconds": round(dt, 2),
                                "steps_per_s": round((s1 - s0) / dt, 2), **_cpu(c0, c1, dt),
                                "load_avg_1m": round(os.getloadavg()[0], 2)})
                # page open: the page draws from its first poll on; count over the window only
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(base + "/lab")
                page.wait_for_function("() => window.studio && window.studio.frames > 2")
                counters = "() => [window.studio.frames, window.studio.drawMs]"
                (f0, d0), s0, t = page.evaluate(counters), _steps(base), time.perf_counter()
                c0 = _tree_cpu(os.getpid(), server.pid)
                time.sleep(args.seconds)
                (f1, d1), s1, dt = page.evaluate(counters), _steps(base), time.perf_counter() - t
                c1 = _tree_cpu(os.getpid(), server.pid)
                page.close()
                windows.append({"round": r, "condition": "page open", "seconds": round(dt, 2),
                                "steps_per_s": round((s1 - s0) / dt, 2), "updates_per_s": round((f1 - f0) / dt, 2),
                                "js_draw_ms_per_update": round((d1 - d0) / max(f1 - f0, 1), 2),
                                **_cpu(c0, c1, dt), "load_avg_1m": round(os.getloadavg()[0], 2)})
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
    # steps per CPU-second the server process got: the cost of serving the page inside the process, apart from
    # how much of the machine the server got (on a loaded machine the browser takes a share of the cores)
    eff = {c: statistics.mean(w["steps_per_s"] / w["server_cpu"] for w in windows
                              if w["condition"] == c and w["server_cpu"] > 0) for c in ("no client", "page open")}
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
                    "steps_per_server_cpu_s_no_client": round(eff["no client"], 1),
                    "steps_per_server_cpu_s_page_open": round(eff["page open"], 1),
                    "browser_cpu_cores": round(statistics.mean(w["browser_cpu"] for w in windows
                                                               if w["condition"] == "page open"), 3),
                    "target_updates_per_s": 5, "target_max_slowdown": 0.2,
                    "updates_ok": ups >= 5, "slowdown_ok": slowdown <= 0.2},
    }
    write_json(args.out, result)
    print(json.dumps(result["summary"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
