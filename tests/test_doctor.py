"""`gankit doctor`: a diagnosis (text, JSON, one page of plots) naming what went wrong in a run and when."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import gk
from PIL import Image

import gankit
from gankit.config import TrainConfig
from gankit.errors import ConfigError
from gankit.health import HealthMonitor
from gankit.health.doctor import diagnose, doctor


def _write_run(run: Path, rows: list[dict], **cfg) -> Path:
    run.mkdir(parents=True)
    config = TrainConfig(**{"loss": "minimax", "lr_g": 2e-4, "lr_d": 2e-3, "steps": 600, **cfg}).resolved()
    (run / "config.json").write_text(config.to_json())
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def _rows(dominated_from: int, steps: int = 600) -> list[dict]:
    out = []
    for s in range(50, steps + 1, 50):
        dom = s >= dominated_from
        out.append({"step": s, "Loss/D": 0.05 if dom else 1.2, "Loss/G": -0.01 if dom else -0.6,
                    "D/real": 0.99 if dom else 0.7, "D/fake": 0.01 if dom else 0.35, "Score/real": 5.0,
                    "Score/fake": -5.0, "GradNorm/D": 0.5, "GradNorm/G": 0.02 if dom else 1.0})
    return out


def test_doctor_names_d_domination_and_when_from_replayed_metrics(tmp_path):
    run = _write_run(tmp_path / "run", _rows(200), health=False)
    d = doctor(run)
    assert d.source == "replayed" and [e["event"] for e in d.first()] == ["d_domination"]
    assert d.first()[0]["step"] == 300  # dominated from 200, patience 3 intervals
    assert d.verdict.startswith("D domination from step 300")
    text = (run / "doctor.txt").read_text()
    assert "d_domination" in text and "remedy: lower D's learning rate" in text and "--no-health" in text
    with Image.open(run / "doctor.png") as im:
        assert im.size[0] > 1000 and im.size[1] > 600


def test_doctor_reads_recorded_events_and_auto_remedy_actions(tmp_path):
    rows = _rows(10**9)
    rows[3]["events"] = [{"event": "mode_collapse", "step": 200, "message": "bunched up.", "remedy": "roll back"},
                         {"event": "auto_remedy", "step": 200, "finding": "mode_collapse", "action": "halved lrs"}]
    run = _write_run(tmp_path / "run", rows, health=True, auto_remedy=True)
    d = diagnose(run)
    assert d.source == "recorded" and [e["event"] for e in d.findings] == ["mode_collapse"]
    assert d.actions[0]["action"] == "halved lrs" and "--auto-remedy acted 1 time" in d.verdict
    assert "auto-remedy" in d.text() and "halved lrs" in d.text()


def test_doctor_on_a_healthy_run_and_a_run_that_stopped_early(tmp_path):
    d = diagnose(_write_run(tmp_path / "ok", _rows(10**9), health=False))
    assert d.verdict.startswith("healthy: no finding over 12 log intervals") and not d.findings
    assert d.end_state["D(x)"] == pytest.approx(0.7)
    d = diagnose(_write_run(tmp_path / "short", _rows(10**9, steps=300), health=False))
    assert any("stops at step 300 of 600" in n for n in d.notes)


def test_doctor_agrees_with_the_monitor_it_replays(tmp_path):
    rows = _rows(250)
    found = [f.event() for r in rows for f in HealthMonitor(loss="minimax").update(r)]
    assert found == []  # a fresh monitor per row sees no streak: replay must keep one monitor over the run
    d = diagnose(_write_run(tmp_path / "run", rows, health=False))
    assert [(e["event"], e["step"]) for e in d.findings] == [("d_domination", 350)]


def test_doctor_cli_text_json_and_errors(tmp_path):
    run = _write_run(tmp_path / "run", _rows(100), health=False)
    r = gk("doctor", run, check=False)
    assert r.returncode == 1, r.stderr  # a finding: exit status 1, so a script can tell
    assert "D domination from step 200" in r.stdout and (run / "doctor.png").exists()
    js = json.loads(gk("doctor", run, "--json", "--no-plot", check=False).stdout)
    assert js["first"][0]["event"] == "d_domination" and js["first"][0]["step"] == 200
    healthy = _write_run(tmp_path / "ok", _rows(10**9), health=False)
    assert gk("doctor", healthy, "--no-plot", check=False).returncode == 0
    bad = gk("doctor", tmp_path / "nothing", check=False)
    assert bad.returncode == 2 and "not a gankit run directory" in bad.stderr
    with pytest.raises(ConfigError):
        diagnose(tmp_path / "nothing")


def test_doctor_on_a_real_toy_run(tmp_path):
    """A short real run end to end: events recorded by the loop, doctor.txt and a page of plots with samples."""
    res = gankit.train(TrainConfig(dataset="ring8", model="mlp", width=32, batch_size=64, steps=100, log_every=25,
                                   sample_every=50, progress=False, out=str(tmp_path / "toy")))
    d = doctor(res.out)
    assert d.source == "recorded" and "diversity (real = 1)" in d.end_state
    assert (Path(res.out) / "doctor.txt").read_text().startswith("gankit doctor:")
    assert (Path(res.out) / "doctor.png").stat().st_size > 10_000
