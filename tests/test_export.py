"""gankit export: ONNX graphs that onnxruntime runs like PyTorch (to 1e-4), and bare safetensors + JSON that
gankit.load reads back."""

import importlib.util
import json

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit import cli
from gankit.config import TrainConfig
from gankit.export import example_inputs, export_generator


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A conditional DCGAN (BatchNorm, label embedding) after a few steps, with an EMA copy."""
    out = tmp_path_factory.mktemp("export") / "cond"
    gankit.train(TrainConfig(dataset="mnist5k", model="dcgan", conditional=True, width=8, d_width=8, z_dim=16,
                             batch_size=16, steps=3, ema=0.5, sample_every=3, ckpt_every=3, progress=False,
                             out=str(out)))
    return out


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "toy"
    gankit.train(TrainConfig(dataset="ring8", model="mlp", width=32, batch_size=64, steps=3, sample_every=3,
                             ckpt_every=3, progress=False, out=str(out)))
    return out


def _onnxruntime_vs_torch(path, G, n, seed):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'gankit[onnx]')")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    args = example_inputs(G.net, n=n, seed=seed)
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})[0]
    want = G(*args)
    assert got.shape == tuple(want.shape)
    return float(abs(torch.from_numpy(got) - want).max())


def test_onnx_conditional_generator_matches_pytorch(cond_run, tmp_path, capsys):
    pytest.importorskip("onnxscript", reason="onnx export not installed (pip install 'gankit[onnx]')")
    out = tmp_path / "g.onnx"
    assert cli.main(["export", str(cond_run), "--format", "onnx", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    inputs = {i.name: (i.type, i.shape) for i in session.get_inputs()}
    assert inputs["z"][0] == "tensor(float)" and inputs["labels"][0] == "tensor(int64)"
    assert isinstance(inputs["z"][1][0], str) and inputs["z"][1][1] == 16  # dynamic batch, fixed z_dim
    G = gankit.load(cond_run)  # the EMA generator, which the export holds
    assert G.uses_ema
    for n in (1, 7):  # other batch sizes than the export's example
        assert _onnxruntime_vs_torch(out, G, n, seed=n) < 1e-4
    # the label input is live: the same z with other labels gives other images
    z, y = example_inputs(G.net, n=4, seed=0)
    a = session.run(None, {"z": z.numpy(), "labels": y.numpy()})[0]
    b = session.run(None, {"z": z.numpy(), "labels": ((y + 1) % 10).numpy()})[0]
    assert abs(a - b).max() > 1e-3


def test_onnx_unconditional_toy_generator_through_the_python_api(toy_run, tmp_path):
    pytest.importorskip("onnxscript", reason="onnx export not installed (pip install 'gankit[onnx]')")
    path = gankit.export.export_generator(toy_run, format="onnx", out=tmp_path / "toy.onnx", check=False)
    assert _onnxruntime_vs_torch(path, gankit.load(toy_run), 9, seed=2) < 1e-4


def test_safetensors_export_is_bare_and_loads_back(cond_run, tmp_path):
    out = export_generator(cond_run, format="safetensors", out=tmp_path / "g.safetensors")
    spec = json.loads((tmp_path / "g.json").read_text())
    assert spec["format"] == "gankit-generator" and spec["weights"] == "g.safetensors"
    assert spec["num_classes"] == 10 and spec["data_shape"] == [1, 28, 28] and spec["config"]["z_dim"] == 16
    tensors = load_file(str(out))
    G = gankit.load(cond_run)
    assert sorted(tensors) == sorted(G.net.state_dict())  # generator weights only: no D, optimizer or RNG
    for path in (out, tmp_path / "g.json"):
        H = gankit.load(path)
        assert H.uses_ema and H.num_classes == 10
        assert torch.equal(H.sample(6, labels=3, seed=1), G.sample(6, labels=3, seed=1))


def test_export_errors_are_one_line(cond_run, tmp_path, monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real_find_spec(name, *a))
    assert cli.main(["export", str(cond_run), "--out", str(tmp_path / "g.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'gankit[onnx]'" in err
    assert not (tmp_path / "g.onnx").exists()
    assert cli.main(["export", str(tmp_path / "nothing"), "--format", "safetensors"]) == 2
    assert "no such run directory" in capsys.readouterr().err
