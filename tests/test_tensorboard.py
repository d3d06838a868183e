"""--tensorboard mirrors metrics.jsonl (the source of truth) into TensorBoard event files, read back here."""

import importlib.util
import json

import pytest

import gankit
from gankit import cli
from gankit.config import TrainConfig

TOY = dict(dataset="ring8", model="mlp", width=32, batch_size=64, steps=20, log_every=10, sample_every=10,
           ckpt_every=10, progress=False)


def test_scalars_and_sample_images_match_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard not installed (pip install 'gankit[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    gankit.train(TrainConfig(**TOY, out=str(out), tensorboard=True))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for key in ("Loss/D", "Loss/G", "D/real", "D/fake", "lr/G", "lr/D", "Loss/R1", "time_s"):
        assert key in tags, key
        events = acc.Scalars(key)
        assert [e.step for e in events] == [r["step"] for r in rows]
        for e, r in zip(events, rows):
            assert e.value == pytest.approx(r[key], rel=1e-6, abs=1e-7)  # stored as float32
    numeric = {k for r in rows for k, v in r.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
    assert numeric <= tags  # every number metrics.jsonl holds is in TensorBoard too
    images = acc.Images("samples")
    assert [im.step for im in images] == [10, 20] and images[0].width > 0 and images[0].height > 0


def test_missing_tensorboard_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a))
    out = tmp_path / "run"
    rc = cli.main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "2", "--out", str(out),
                   "--tensorboard", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "tensorboard" in err and "pip install 'gankit[tensorboard]'" in err
    assert not out.exists()  # refused before the run directory was made
