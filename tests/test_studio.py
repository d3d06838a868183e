"""The studio's web app through Starlette's TestClient: pages, the lab's controls and live settings, the run and
explore endpoints, bounds on every input, path confinement to --runs, and the `gankit studio` verb's refusals."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("starlette", reason="gankit studio needs pip install 'gankit[studio]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

with warnings.catch_warnings():  # Starlette asks for httpx2 in its newest releases; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from gankit.cli import main  # noqa: E402
from gankit.runlock import RunLock  # noqa: E402
from gankit.studio.lab import LabConfig, LabRunner  # noqa: E402
from gankit.studio.server import create_app  # noqa: E402
from helpers import refused  # noqa: E402

TINY = ["--model", "mlp", "--steps", "4", "--batch-size", "16", "--log-every", "2", "--sample-every", "2",
        "--no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --runs folder: a ring8 run, a nested conditional MNIST run and an InfoGAN run (4 steps each)."""
    root = tmp_path_factory.mktemp("studio") / "runs"
    assert main(["train", "--dataset", "ring8", *TINY, "--out", str(root / "ring8")]) == 0
    assert main(["train", "--dataset", "mnist5k", "--conditional", *TINY, "--out", str(root / "exp" / "cond")]) == 0
    assert main(["train", "--dataset", "mnist5k", "--method", "infogan", *TINY, "--out", str(root / "info")]) == 0
    return root


@pytest.fixture
def client(runs: Path):
    app = create_app(runs, lab=LabRunner(LabConfig(batch_size=64)))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.app_state = app.state
        yield c


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


def _error(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"], body
    return body["error"]


def _wait(pred, timeout: float = 20.0) -> None:
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------ pages
@pytest.mark.parametrize("path", ["/", "/lab", "/runs", "/run?run=ring8", "/compare?a=ring8&b=info", "/explore"])
def test_pages_are_served_from_the_package_with_no_outside_resource(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "http://" not in r.text and "https://" not in r.text  # no CDN
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for src in [s.split('"')[1] for s in r.text.split("src=")[1:]] + ["/static/studio.css"]:
        assert client.get(src).status_code == 200, src


def test_unknown_route_is_json_404(client):
    assert "Not Found" in _error(client.get("/nope"), 404)
    _error(client.post("/api/runs", json={}), 405)


# ------------------------------------------------------------------------------------------------ lab
def test_lab_start_pause_step_reset(client):
    runner = client.app_state.lab
    opts = client.get("/api/lab/options").json()
    assert "ring8" in opts["datasets"] and "drawn" in opts["datasets"] and "unrolled" in opts["tricks"]
    assert client.post("/api/lab/start", json={}).json() == {"ok": True}
    _wait(lambda: runner.trainer.step_count >= 55)
    assert client.post("/api/lab/pause", json={}).json() == {"ok": True}
    paused_at = runner.trainer.step_count
    time.sleep(0.2)
    assert runner.trainer.step_count == paused_at and not runner.running
    assert client.post("/api/lab/step", json={"n": 3}).json()["step"] == paused_at + 3
    state = client.get("/api/lab/state").json()
    assert state["status"]["step"] == paused_at + 3 and state["status"]["running"] is False
    assert state["history"] and state["history"][0]["step"] == 25 and "Loss/D" in state["history"][0]
    assert "modes" in state["quality"] and 0.0 <= state["quality"]["hq"] <= 1.0
    frame = state["frame"]
    assert frame["dim"] == 2 and len(base64.b64decode(frame["heat"])) == frame["heat_n"] ** 2
    assert len(frame["arrows"]) == 80 and len(frame["arrows"][0]) == 4 and len(frame["fake"]) == 400
    assert "real" not in state and len(client.get("/api/lab/state?real=1").json()["real"]) == 400
    assert client.get("/api/lab/state?since=25").json()["history"][0]["step"] == 50  # only rows after `since`
    assert client.post("/api/lab/reset", json={"dataset": "gaussian1d", "lr_d": 2e-4}).json() == {"ok": True}
    state = client.get("/api/lab/state").json()
    assert state["status"]["step"] == 0 and state["settings"]["dataset"] == "gaussian1d"
    assert runner.trainer.opt_d.param_groups[0]["lr"] == 2e-4
    client.post("/api/lab/step", json={"n": 2})
    frame = client.get("/api/lab/state").json()["frame"]
    assert frame["dim"] == 1 and len(frame["xs"]) == len(frame["d"]) == len(frame["d_star"])
    assert all(0.0 <= v <= 1.0 for v in frame["d_star"])


def test_a_changed_learning_rate_and_loss_take_effect_at_the_next_step(client):
    runner = client.app_state.lab
    client.post("/api/lab/step", json={"n": 1})
    r = client.post("/api/lab/params", json={"lr_g": 3e-4, "loss": "hinge", "d_steps": 2})
    assert r.json()["settings"]["lr_g"] == 3e-4
    assert runner.trainer.opt_g.param_groups[0]["lr"] == 3e-4 and runner.trainer.loss.name == "hinge"
    # the next step trains with them: G's weights move by exactly Adam's update at the new rate
    opt = runner.trainer.opt_g
    p = runner.trainer.net.g_params[0]
    before = p.detach().clone()
    client.post("/api/lab/step", json={"n": 1})
    st, (b1, b2), eps = opt.state[p], opt.param_groups[0]["betas"], opt.param_groups[0]["eps"]
    t = float(st["step"])
    direction = (st["exp_avg"] / (1 - b1 ** t)) / ((st["exp_avg_sq"] / (1 - b2 ** t)).sqrt() + eps)
    moved = p.detach() - before  # float32 rounding of weights near 0.1 is ~1e-8; the old rate would give 1e-3 steps
    assert torch.allclose(moved, -3e-4 * direction, rtol=1e-3, atol=1e-7)
    # while training runs, a change lands between two steps and training goes on
    client.post("/api/lab/start", json={})
    client.post("/api/lab/params", json={"lr_d": 5e-4})
    assert runner.trainer.opt_d.param_groups[0]["lr"] == 5e-4 and runner.running
    step = runner.trainer.step_count
    _wait(lambda: runner.trainer.step_count > step + 2)
    client.post("/api/lab/pause", json={})


def test_a_drawn_data_set_trains_on_the_points(client):
    pts = [[-1.0, 0.0], [1.0, 0.5], [0.0, -1.5]]
    assert client.post("/api/lab/reset", json={"dataset": "drawn", "points": pts}).json() == {"ok": True}
    data = client.app_state.lab.trainer.data
    assert data.shape == (50_000, 2) and float((data.mean(0) - torch.tensor(pts).mean(0)).abs().max()) < 0.05
    client.post("/api/lab/step", json={"n": 2})
    assert client.get("/api/lab/state").json()["n_points"] == 3
    assert "at least 2 points" in _error(client.post("/api/lab/reset", json={"dataset": "drawn", "points": []}), 400)


@pytest.mark.parametrize("path,body,words", [
    ("/api/lab/params", {"lr_g": 0.5}, "lr_g must be in"),
    ("/api/lab/params", {"lr_d": 0.0}, "lr_d must be in"),
    ("/api/lab/params", {"lr_d": "0.001"}, "lr_d must be a number"),
    ("/api/lab/params", {"lr_d": True}, "lr_d must be a number"),
    ("/api/lab/params", {"d_steps": 11}, "d_steps must be in"),
    ("/api/lab/params", {"d_steps": 1.5}, "d_steps must be an integer"),
    ("/api/lab/params", {"loss": "wasserstein"}, "loss must be one of"),
    ("/api/lab/params", {"label_smoothing": 0.9}, "label_smoothing must be in"),
    ("/api/lab/params", {"batch_size": 64}, "cannot change while training"),
    ("/api/lab/params", [1, 2], "JSON object"),
    ("/api/lab/reset", {"batch_size": 4096}, "batch_size must be in"),
    ("/api/lab/reset", {"batch_size": 8}, "batch_size must be in"),
    ("/api/lab/reset", {"seed": -1}, "seed must be in"),
    ("/api/lab/reset", {"dataset": "mnist"}, "dataset must be one of"),
    ("/api/lab/reset", {"trick": "pacgan", "batch_size": 65}, "batch_size must be even"),
    ("/api/lab/reset", {"unknown": 1}, "unknown setting 'unknown'"),
    ("/api/lab/reset", {"dataset": "drawn", "points": [[0.0, 0.0]] * 2001}, "at most 2000"),
    ("/api/lab/reset", {"dataset": "drawn", "points": [[0.0, 7.0], [1.0, 1.0]]}, "point y must be in"),
    ("/api/lab/reset", {"dataset": "drawn", "points": [[0.0], [1.0, 1.0]]}, "[x, y] pair"),
    ("/api/lab/reset", {"loss": "hinge", "label_smoothing": 0.1}, "no meaning"),
    ("/api/lab/step", {"n": 0}, "n must be in"),
    ("/api/lab/step", {"n": 501}, "n must be in"),
])
def test_bad_lab_input_is_a_4xx_and_training_goes_on(client, path, body, words):
    runner = client.app_state.lab
    client.post("/api/lab/start", json={})
    settings = client.get("/api/lab/state").json()["settings"]
    assert words in _error(client.post(path, json=body), 400)
    step = runner.trainer.step_count
    _wait(lambda: runner.trainer.step_count > step)  # still training
    assert runner.running and client.get("/api/lab/state").json()["settings"] == settings
    client.post("/api/lab/pause", json={})


def test_non_finite_numbers_in_json_are_refused(client):
    r = client.post("/api/lab/params", content=b'{"lr_g": NaN}', headers={"content-type": "application/json"})
    assert "lr_g must be a number" in _error(r, 400)
    r = client.post("/api/lab/params", content=b'{"lr_g": Infinity}', headers={"content-type": "application/json"})
    assert "lr_g must be a number" in _error(r, 400)


def test_body_size_type_and_syntax_are_checked(client):
    big = json.dumps({"points": [[0.0, 0.0]] * 40_000}).encode()
    assert "over 262144 bytes" in _error(client.post("/api/lab/reset", content=big,
                                                     headers={"content-type": "application/json"}), 413)

    def chunks():  # no Content-Length: the limit counts the bytes as they come
        for _ in range(40):
            yield b" " * 10_000

    assert "over 262144 bytes" in _error(client.post("/api/lab/reset", content=chunks(),
                                                     headers={"content-type": "application/json"}), 413)
    assert "Content-Type: application/json" in _error(client.post("/api/lab/start", content=b"{}",
                                                                  headers={"content-type": "text/plain"}), 415)
    assert "not valid JSON" in _error(client.post("/api/lab/reset", content=b"{oops",
                                                  headers={"content-type": "application/json"}), 400)
    assert "query string" in _error(client.get("/api/lab/state?x=" + "a" * 5000), 414)
    assert "since must be an integer" in _error(client.get("/api/lab/state?since=abc"), 400)


def test_an_internal_error_is_json_without_traceback_and_the_lab_keeps_training(client, monkeypatch):
    runner = client.app_state.lab
    client.post("/api/lab/start", json={})
    monkeypatch.setattr(runner, "state_json", lambda since=-1, real=False: 1 / 0)
    assert "internal error (ZeroDivisionError)" in _error(client.get("/api/lab/state"), 500)
    step = runner.trainer.step_count
    _wait(lambda: runner.trainer.step_count > step)
    client.post("/api/lab/pause", json={})


# ------------------------------------------------------------------------------------------------ runs
def test_runs_lists_every_run_folder_and_a_run_page_has_curves_samples_and_the_doctor(client, runs):
    listed = {r["name"]: r for r in client.get("/api/runs").json()["runs"]}
    assert set(listed) == {"ring8", "exp/cond", "info"}
    assert listed["ring8"]["dataset"] == "ring8" and listed["ring8"]["step"] == 4 and not listed["ring8"]["running"]
    r = client.get("/api/run", params={"run": "exp/cond"}).json()
    assert r["config"]["conditional"] is True and r["curves"]["step"] == [2, 4]
    assert len(r["curves"]["Loss/D"]) == 2 and r["samples"] == [2, 4]
    assert r["doctor"]["verdict"].startswith("healthy") and "4 of 4 steps" in r["doctor"]["summary"]
    png = client.get("/api/run/sample", params={"run": "exp/cond", "step": 2})
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "no sample grid at step 3" in _error(client.get("/api/run/sample", params={"run": "ring8", "step": 3}), 404)


def test_a_run_being_written_shows_as_training(client, runs):
    held = RunLock.acquire(runs / "ring8")
    try:
        assert client.get("/api/run", params={"run": "ring8"}).json()["running"] is True
    finally:
        held.release()
    assert client.get("/api/run", params={"run": "ring8"}).json()["running"] is False


@pytest.mark.parametrize("name,status", [
    ("..", 400), ("../ring8", 400), ("ring8/..", 400), ("exp/../ring8", 400), ("/etc", 400), ("./ring8", 400),
    ("ring8\\..\\..", 400), ("", 400), (".hidden", 400), ("missing", 404), ("exp", 404), ("ring8\x00", 400),
])
def test_run_names_outside_plain_relative_paths_are_refused(client, name, status):
    for path in ("/api/run", "/api/explore/info", "/api/explore/grid"):
        _error(client.get(path, params={"run": name}), status)
    _error(client.get("/api/run/sample", params={"run": name, "step": 2}), status)


@pytest.mark.parametrize("raw", ["%2e%2e", "%2e%2e%2fetc", "ring8%2f%2e%2e%2f%2e%2e", "%2fetc", "%252e%252e"])
def test_url_encoded_traversal_is_refused(client, raw):
    r = client.get("/api/run?run=" + raw)
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_symlinks_out_of_the_runs_folder_are_refused_and_not_listed(client, runs, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(runs / "ring8", outside)
    (runs / "link-out").symlink_to(outside, target_is_directory=True)
    (runs / "link-in").symlink_to(runs / "ring8", target_is_directory=True)
    (runs / "ring8" / "samples" / "step_0000099.png").symlink_to(outside / "samples" / "step_0000002.png")
    try:
        names = [r["name"] for r in client.get("/api/runs").json()["runs"]]
        assert "link-out" not in names and "link-in" in names
        assert "outside --runs" in _error(client.get("/api/run", params={"run": "link-out"}), 403)
        assert "outside --runs" in _error(client.get("/api/run/sample", params={"run": "link-out", "step": 2}), 403)
        assert "not a file of this run" in _error(
            client.get("/api/run/sample", params={"run": "ring8", "step": 99}), 403)
        assert client.get("/api/run", params={"run": "link-in"}).status_code == 200
    finally:
        for p in (runs / "link-out", runs / "link-in", runs / "ring8" / "samples" / "step_0000099.png"):
            p.unlink()


def test_no_request_writes_into_the_runs_folder(client, runs):
    before = _tree(runs)
    for path, params in [("/api/runs", {}), ("/api/run", {"run": "ring8"}), ("/api/run", {"run": "info"}),
                         ("/api/run/sample", {"run": "ring8", "step": 4}), ("/api/explore/info", {"run": "info"}),
                         ("/api/explore/grid", {"run": "exp/cond", "n": 4}),
                         ("/api/explore/interpolate", {"run": "ring8", "steps": 3})]:
        assert client.get(path, params=params).status_code == 200, path
    assert _tree(runs) == before


# ------------------------------------------------------------------------------------------------ explore
def test_explore_a_toy_run_gives_points_with_sliders_applied(client):
    info = client.get("/api/explore/info", params={"run": "ring8"}).json()
    assert info["toy"] and info["sliders"] == 8 and info["num_classes"] == 0
    pts = client.get("/api/explore/grid", params={"run": "ring8", "n": 50, "seed": 3}).json()["points"]
    assert len(pts) == 50 and len(pts[0]) == 2
    same = client.get("/api/explore/grid", params={"run": "ring8", "n": 50, "seed": 3}).json()["points"]
    pinned = client.get("/api/explore/grid", params={"run": "ring8", "n": 50, "seed": 3, "z": "2.5,-2.5"}).json()
    assert same == pts and pinned["points"] != pts
    walk = client.get("/api/explore/interpolate", params={"run": "ring8", "a": 0, "b": 5, "steps": 6}).json()
    assert len(walk["points"]) == 6
    assert walk["points"][0] == client.get("/api/explore/grid", params={"run": "ring8", "n": 16}).json()["points"][0]


def test_explore_a_conditional_image_run_gives_png_grids_per_class(client):
    info = client.get("/api/explore/info", params={"run": "exp/cond"}).json()
    assert info["num_classes"] == 10 and not info["toy"] and info["data_shape"] == [1, 28, 28]
    a = client.get("/api/explore/grid", params={"run": "exp/cond", "n": 9, "cls": 3})
    b = client.get("/api/explore/grid", params={"run": "exp/cond", "n": 9, "cls": 7})
    assert a.headers["content-type"] == "image/png" and a.content[:4] == b"\x89PNG" and a.content != b.content
    walk = client.get("/api/explore/interpolate", params={"run": "exp/cond", "steps": 5, "cls": 1, "slerp": "1"})
    assert walk.status_code == 200 and walk.content[:4] == b"\x89PNG"


def test_explore_an_infogan_run_offers_its_codes(client):
    info = client.get("/api/explore/info", params={"run": "info"}).json()
    assert info["codes"]["cat"] == 10 and info["codes"]["cont"] == 2
    a = client.get("/api/explore/grid", params={"run": "info", "n": 4, "code": 2, "cont": "0.5,-0.5"})
    b = client.get("/api/explore/grid", params={"run": "info", "n": 4, "code": 2, "cont": "-0.9,0.9"})
    assert a.status_code == b.status_code == 200 and a.content != b.content
    assert "cont: this generator has 2" in _error(client.get("/api/explore/grid", params={"run": "info", "cont": "0.1"}),
                                                  400)


@pytest.mark.parametrize("params,words", [
    ({"run": "exp/cond", "n": 65}, "n must be in"),
    ({"run": "ring8", "n": 2001}, "n must be in"),
    ({"run": "ring8", "n": 0}, "n must be in"),
    ({"run": "ring8", "seed": -5}, "seed must be in"),
    ({"run": "ring8", "z": "3.5"}, "z must be in"),
    ({"run": "ring8", "z": "nan"}, "z must be a number"),
    ({"run": "ring8", "z": "1,2,3,4,5,6,7,8,9"}, "at most 8"),
    ({"run": "ring8", "z": "x"}, "not a number"),
    ({"run": "ring8", "cls": 1}, "unconditional"),
    ({"run": "exp/cond", "cls": 10}, "cls must be in"),
    ({"run": "ring8", "code": 1}, "no categorical code"),
    ({"run": "info", "code": 10}, "code must be in"),
    ({"run": "info", "cont": "1.5,0"}, "cont must be in"),
    ({"run": "exp/cond", "nrow": 100}, "nrow must be in"),
])
def test_explore_inputs_are_bounded(client, params, words):
    assert words in _error(client.get("/api/explore/grid", params=params), 400)


@pytest.mark.parametrize("params,words", [({"steps": 1}, "steps must be in"), ({"steps": 17}, "steps must be in"),
                                          ({"a": 16}, "a must be in"), ({"b": -1}, "b must be in")])
def test_interpolation_inputs_are_bounded(client, params, words):
    assert words in _error(client.get("/api/explore/interpolate", params={"run": "ring8", "n": 16, **params}), 400)


def test_a_run_without_checkpoint_is_a_404(client, runs, tmp_path):
    bare = runs / "bare"
    bare.mkdir()
    shutil.copy(runs / "ring8" / "config.json", bare / "config.json")
    try:
        assert "no checkpoint" in _error(client.get("/api/explore/info", params={"run": "bare"}), 404)
        assert client.get("/api/run", params={"run": "bare"}).json()["doctor"]["verdict"] == "no metrics yet"
    finally:
        shutil.rmtree(bare)


# ------------------------------------------------------------------------------------------------ host and CLI
def test_a_local_server_answers_local_host_names_only(runs):
    app = create_app(runs, allowed_hosts=["127.0.0.1", "localhost"], lab=LabRunner())
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"host": "evil.example:8765"}).status_code == 400


def test_studio_verb_refuses_bad_flags_in_one_line(capsys, tmp_path):
    refused(capsys, ["studio", "--runs", str(tmp_path / "missing")], "--runs", "not a folder")
    refused(capsys, ["studio", "--runs", str(tmp_path), "--port", "70000"], "--port")


def test_studio_verb_refuses_a_port_in_use_in_one_line(capsys, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        refused(capsys, ["studio", "--runs", str(tmp_path), "--port", str(s.getsockname()[1])], "--port",
                "cannot listen there")


def test_studio_verb_without_the_extra_names_the_install_command(capsys, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "starlette" else real(name, *a))
    refused(capsys, ["studio", "--runs", str(tmp_path)], "pip install 'gankit[studio]'")


def test_default_host_is_local_and_another_host_prints_a_warning(tmp_path):
    import socket
    import subprocess
    import sys

    def serve(*extra: str) -> tuple[str, str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        p = subprocess.Popen([sys.executable, "-m", "gankit", "studio", "--runs", str(tmp_path), "--port", str(port),
                              *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            line = p.stdout.readline()
            _wait(lambda: _listening(port), timeout=30)
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=10) as r:
                assert json.loads(r.read()) == {"runs": []}
        finally:
            p.terminate()
            _, err = p.communicate(timeout=30)
        return line, err

    line, err = serve()
    assert line.startswith("gankit studio: http://127.0.0.1:") and "warning" not in err
    line, err = serve("--host", "0.0.0.0")
    assert "http://0.0.0.0:" in line
    assert err.splitlines()[0].startswith("gankit: warning: --host 0.0.0.0 serves the studio beyond this machine")


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
