"""The pieces of bench/ that turn runs into reported figures: the reference loop's snapshot clock and the time to
quality read off a curve (no timing is asserted, only how the clocks are kept)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from reference_dcgan import train_reference  # noqa: E402
from time_to_quality import time_to  # noqa: E402


def test_reference_snapshots_are_kept_off_its_clock():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 48)
    calls: list[tuple[int, float, float]] = []
    pause = 0.3

    def snapshot(it, seconds, netG):
        calls.append((it, seconds, time.perf_counter()))
        assert netG.training  # handed over as the loop has it; the caller copies it
        time.sleep(pause)

    res = train_reference(images, labels, steps=4, warmup=1, batch_size=8, width=8, workers=0,
                          snapshot_every=2, snapshot=snapshot)
    assert [c[0] for c in calls] == [2, 4]
    (_, s1, w1), (_, s2, w2) = calls
    assert 0 < s1 < s2
    # between the two calls the wall clock moved by the loop's time plus the first call's pause; the loop's own
    # clock by the loop's time only
    assert (w2 - w1) - (s2 - s1) >= pause - 0.01
    assert res["steps_timed"] == 3 and res["seconds"] > 0


@pytest.mark.parametrize("fids, expected", [([900.0, 400.0, 350.0, 300.0], 3.0), ([900.0, 360.0], None),
                                            ([340.0, 900.0], 1.0)])
def test_time_to_threshold_is_the_first_snapshot_at_or_below(fids, expected):
    curve = [{"seconds": float(i + 1), "fid": f} for i, f in enumerate(fids)]
    assert time_to(curve, 350.0) == expected


def test_reference_main_is_timed_from_its_own_iteration_lines(tmp_path):
    # a stand-in for pytorch/examples' dcgan/main.py: its argument names and its per-iteration line, one every
    # 0.05 s, then a hang that the harness must cut short once it has seen the last timed iteration
    from reference_main import BATCH, time_main, torchvision_root

    stub = tmp_path / "main.py"
    stub.write_text(
        "import argparse, os, time\n"
        "p = argparse.ArgumentParser()\n"
        "for a in ('--dataset', '--dataroot', '--niter', '--outf', '--manualSeed'): p.add_argument(a)\n"
        "o = p.parse_args()\n"
        "assert sorted(os.listdir(os.path.join(o.dataroot, 'MNIST', 'raw')))[0] == 't10k-images-idx3-ubyte'\n"
        "print(o)\n"
        "for i in range(100):\n"
        "    time.sleep(0.05)\n"
        "    print('[0/1][%d/938] Loss_D: 1.0 Loss_G: 2.0 D(x): 0.5 D(G(z)): 0.5 / 0.5' % i)\n"
        "    if i == 8: time.sleep(600)\n")
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    import gzip

    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(data / f"{name}.gz", "wb") as f:
            f.write(b"idx")
    root = torchvision_root(tmp_path / "data", tmp_path / "root")
    assert (root / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes() == b"idx"
    t = time.perf_counter()
    r = time_main(sys.executable, stub, root, iters=8, warmup=2)
    assert time.perf_counter() - t < 60  # stopped at iteration 8, not left to its 600 s sleep
    # 6 iterations of 0.05 s each, plus the stub's start-up; images per iteration = main.py's batch
    assert 0.2 * BATCH / 0.05 < r["images_per_s"] <= BATCH / 0.05 * 1.01
    with pytest.raises(SystemExit, match="before iteration 200"):
        stub.write_text(stub.read_text().replace("if i == 8: time.sleep(600)", "if i == 8: break"))
        time_main(sys.executable, stub, root, iters=200, warmup=2)


def test_stability_merge_joins_side_by_side_results_and_tabulates(tmp_path, capsys):
    import json
    import subprocess

    a = {"mnist-classic": {"0": {"fid": 87.0, "converged": True}, "1": {"fid": 95.0, "converged": True}}}
    b = {"mnist-classic": {"3": {"fid": 90.0, "converged": True}, "2": {"fid": 620.0, "converged": False}},
         "ring8-mlp": {"0": {"modes": 8, "hq": 0.8, "converged": True}}}
    rerun = {"mnist-classic": {"2": {"fid": 99.0, "converged": True}}}
    files = []
    for name, part in (("a", a), ("b", b), ("rerun", rerun)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps(part))
    out = tmp_path / "all.json"
    script = Path(__file__).resolve().parents[1] / "bench" / "stability.py"
    res = subprocess.run([sys.executable, str(script), "--merge", *map(str, files), "--out", str(out)],
                         capture_output=True, text=True, check=True)
    merged = json.loads(out.read_text())
    assert list(merged["mnist-classic"]) == ["0", "1", "2", "3"]  # in seed order
    assert merged["mnist-classic"]["2"]["fid"] == 99.0  # the later file's rerun wins, and it is said
    assert "seed 2: the later result replaces" in res.stdout
    assert "| mnist-classic | 4 / 4 | fid: 87, 95, 99, 90 | 92 |" in res.stdout
    assert "| ring8-mlp | 1 / 1 | modes: 8 | 8 |" in res.stdout


def test_roof_batch_sizes_parse_and_name_bad_input():
    import argparse

    from run import batch_sizes

    assert batch_sizes("128,256,512") == [128, 256, 512]
    for bad, said in (("abc", "integers"), ("128,x", "integers"), ("0", ">= 1"), ("128,-4", ">= 1")):
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            batch_sizes(bad)


def test_variants_parse_to_their_flags_and_name_bad_input():
    import argparse

    from run import variant_names

    v = variant_names("default,compiled")
    assert list(v) == ["default", "compiled"]
    assert v["default"] == {} and v["compiled"]["compile"] and v["compiled"]["channels_last"]
    for bad in ("fastest", "fast,turbo", ","):
        with pytest.raises(argparse.ArgumentTypeError, match="unknown variant"):
            variant_names(bad)


def test_roof_fraction_against_the_best_roof_of_the_run():
    from run import against_run_best

    def runs(pairs):  # (achieved, roof read in that round)
        return {"runs": [{"achieved_gflops": a, "roof_gflops": r, "roof_fraction": a / r} for a, r in pairs]}

    # a round whose roof read low (80) would count 80/80 = 1.0 against its own reading
    batches = {"128": {"gankit-fast": runs([(80.0, 80.0), (90.0, 150.0), (85.0, 140.0)]),
                       "gankit-default": runs([(60.0, 120.0)])},
               "256": {"gankit-fast": runs([(75.0, 160.0)]), "gankit-default": runs([(64.0, 100.0)])}}
    assert against_run_best(batches, ["default", "fast"]) == 160.0
    fast = batches["128"]["gankit-fast"]["roof_fraction_of_run_best"]
    assert fast["median"] == pytest.approx(85 / 160) and fast["max"] == pytest.approx(90 / 160)
    assert batches["256"]["gankit-default"]["roof_fraction_of_run_best"]["median"] == pytest.approx(64 / 160)


@pytest.mark.parametrize("name, group", [
    ("aten::convolution_backward", "conv backward"), ("aten.convolution_backward", "conv backward"),
    ("aten::mkldnn_convolution", "conv forward"), ("aten::_convolution", "conv forward"),
    ("aten.convolution", "conv forward"), ("aten::slow_conv_transpose2d", "conv forward"),
    ("aten::mm", "matmul"), ("aten.addmm", "matmul"), ("aten::native_batch_norm", "other"),
    ("autograd::engine::evaluate_function: ConvolutionBackward0", "other"), ("Optimizer.step#Adam.step", "other"),
])
def test_breakdown_groups_ops_by_name(name, group):
    from breakdown import op_group

    assert op_group(name) == group


def test_breakdown_takes_the_difference_of_two_profiles_per_step():
    from breakdown import breakdown

    # short run: set-up costs; long run: the same plus 10 steps of 6 ms conv fwd, 9 ms conv bwd, 1 ms mm, 4 ms rest
    short = {"aten::mkldnn_convolution": 500.0, "aten::convolution_backward": 700.0, "aten::copy_": 9000.0}
    long = {"aten::mkldnn_convolution": 60_500.0, "aten::convolution_backward": 90_700.0, "aten::mm": 10_000.0,
            "aten::copy_": 29_000.0, "aten::native_batch_norm": 20_000.0}
    flops = {"aten.convolution": 0.6e9, "aten.convolution_backward": 0.9e9, "aten.mm": 0.05e9}
    r = breakdown(short, long, 10, flops, roof_gflops=200.0)
    g = r["groups"]
    assert g["conv forward"]["ms_per_step"] == pytest.approx(6.0)
    assert g["conv backward"]["ms_per_step"] == pytest.approx(9.0)
    assert g["matmul"]["ms_per_step"] == pytest.approx(1.0)
    assert g["other"]["ms_per_step"] == pytest.approx(4.0)
    assert r["step_ms"] == pytest.approx(20.0)
    assert g["conv forward"]["gflops"] == pytest.approx(100.0)  # 0.6 GFLOP in 6 ms
    assert g["conv backward"]["roof_fraction"] == pytest.approx(0.5)
    assert g["other"]["gflops"] is None  # no FLOPs counted there: no rate
    assert r["achieved_gflops"] == pytest.approx(1.55 / 0.020)
    assert r["roof_fraction"] == pytest.approx(1.55 / 0.020 / 200)
    assert r["bound_if_rest_free"] == pytest.approx(1.55 / 0.016 / 200)  # the 4 ms of the rest taken away
    assert r["compute_ms"] == pytest.approx(16.0)


def test_breakdown_dispatch_timer_reads_every_op_and_the_time_outside_them(monkeypatch):
    """--timer dispatch: each aten op's wall time by name, and the run's remaining wall time as 'outside ops'
    (grouped as "other"), so the groups add up to the run's wall time."""
    import breakdown as bd
    import torch

    def fake_train(cfg):
        a = torch.randn(64, 64)
        for _ in range(3):
            a = a @ a
            a = torch.nn.functional.conv2d(a[None, None], torch.ones(1, 1, 3, 3))[0, 0]
        time.sleep(0.05)  # outside any op

    monkeypatch.setattr(bd.gankit, "train", fake_train)
    us = bd.dispatch_op_us({"dataset": "ring8", "model": "mlp", "progress": False}, 2)
    assert us["aten.mm.default"] > 0 and any(bd.op_group(k) == "conv forward" for k in us)
    assert us[bd.OUTSIDE_OPS] >= 0.05e6 and bd.op_group(bd.OUTSIDE_OPS) == "other"


def test_thin_layers_bench_swaps_only_the_two_thin_layers_and_pairs_rounds():
    """bench/thin_layers.py's "onednn" arm: D's first and G's last layer on nn's kernels, everything else (the
    GEMM head and projection) as built, and the original models again outside the context."""
    from torch import nn

    from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gankit.models.gemmconv import GemmConv2d, GemmConvTranspose2d
    from thin_layers import paired_ratios, thin_layers_on_onednn

    def kinds():
        D, G = DCGANDiscriminator((1, 28, 28), width=8), DCGANGenerator((1, 28, 28), 4, width=8)
        return type(D.features[0]), type(G.net[-2]), type(D.head), type(G.net[0])

    assert kinds() == (GemmConv2d, GemmConvTranspose2d, GemmConv2d, GemmConvTranspose2d)
    with thin_layers_on_onednn():
        assert kinds() == (nn.Conv2d, nn.ConvTranspose2d, GemmConv2d, GemmConvTranspose2d)
    assert kinds() == (GemmConv2d, GemmConvTranspose2d, GemmConv2d, GemmConvTranspose2d)
    # with the conditional D's 10 label maps the first layer has 11 input channels: oneDNN was faster there
    assert type(DCGANDiscriminator((1, 28, 28), num_classes=10, width=8).features[0]) is nn.Conv2d
    assert type(DCGANDiscriminator((3, 32, 32), width=8).features[0]) is GemmConv2d
    r = paired_ratios([110.0, 90.0, 130.0], [100.0, 100.0, 100.0])
    assert r["per_round"] == pytest.approx([1.1, 0.9, 1.3]) and r["median"] == pytest.approx(1.1)
    assert (r["min"], r["max"], r["rounds_above_1"]) == (pytest.approx(0.9), pytest.approx(1.3), 2)
    with pytest.raises(ValueError, match="equally long"):
        paired_ratios([1.0], [1.0, 2.0])


def test_thin_layers_per_layer_cases_cover_both_phases_and_run():
    from thin_layers import layer_cases

    cases = layer_cases(2)
    assert set(cases) == {f"D first, {c} in, {p} step" for c in (1, 3, 11) for p in ("D", "G")} | {
        f"G last, {c} out, {m}" for c in (1, 3) for m in ("training", "sampling")}
    for fns in cases.values():
        assert set(fns) == {"onednn", "gemm"}
        for fn in fns.values():
            fn()


def test_loop_compare_extracts_a_commit_and_renders_its_result(tmp_path):
    import loop_compare

    src = loop_compare.extract("HEAD", tmp_path)
    assert (src / "gankit" / "training" / "loop.py").is_file()  # the tree of that commit, not this checkout
    result = {"command": "python bench/loop_compare.py --ref abc", "this": "new", "ref": "abc", "reps": 2,
              "machine": {"date": "2026-01-01", "cpu": "cpu", "cores": 2, "torch": "2"},
              "cases": {"toy": {"steps": 10, "rounds_this_faster": 1,
                                "images_per_s": {"this": {"median": 110, "min": 100, "max": 120, "n": 2},
                                                 "ref": {"median": 100, "min": 90, "max": 110, "n": 2}},
                                "ratio": {"median": 1.1, "min": 1.0, "max": 1.2, "n": 2}}}}
    table = loop_compare.render(result)
    assert "| toy | 10 | 110 (100-120) | 100 (90-110) | 1.100 (1.000-1.200) | 1 of 2 |" in table
