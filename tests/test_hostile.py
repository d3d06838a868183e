"""Hostile but fair input through the command line: malformed files, configs and flags. Each is refused with exit
status 2 and exactly one line on stderr that names the bad input, never a traceback, and a run folder the command
should not change is left byte for byte as it was. In-process (`gankit.cli.main`) for speed, on tiny runs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gankit import checkpoint as ckpt
from gankit.cli import main
from helpers import refused
from gankit.config import MAX_SEED

TINY = ["--dataset", "ring8", "--model", "mlp", "--steps", "4", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny finished ring8 run, trained once for the module; tests work on copies of it."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's sha256, or "dir"."""
    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}



# ---------------------------------------------------------------------------------------------------- train flags
FLAGS = [
    (["--seed", str(2**63)], "'seed'"),
    (["--seed", "-1"], "'seed'"),
    (["--seed", str(2**44)], "'seed'"),  # derived seeds (seed * 1,000,003 + epoch) would overflow torch's range
    (["--n-samples", "100000"], "'n_samples'"),
    (["--z-dim", "100000000"], "'z_dim'"),
    (["--width", "100000000"], "'width'"),
    (["--d-width", "100000000"], "'d_width'"),
    (["--depth", "100000"], "'depth'"),
    (["--batch-size", "100000000000"], "'batch_size'"),
    (["--steps", str(2**70)], "'steps'"),
    (["--d-steps", "1000000"], "'d_steps'"),
    (["--eval-n", str(2**70)], "'eval_n'"),
    (["--eval-every", "-1"], "'eval_every'"),
    (["--log-every", str(2**64)], "'log_every'"),
    (["--sample-every", str(2**64)], "'sample_every'"),
    (["--ckpt-every", str(2**64)], "'ckpt_every'"),
    (["--keep-ckpts", str(2**64)], "'keep_ckpts'"),
    (["--image-size", "1000000"], "'image_size'"),
    (["--r1", "nan"], "'r1'"),
    (["--instance-noise", "nan"], "'instance_noise'"),
    (["--gp-weight", "nan"], "'gp_weight'"),
    (["--label-smoothing", "nan"], "'label_smoothing'"),
    (["--lr", "nan"], "'lr_g'"),
    (["--lr-d", "inf"], "'lr_d'"),
    (["--lr", "1e300"], "'lr_g'"),  # finite, but Adam's step overflows float32
    (["--r1", "1e39"], "'r1'"),
    (["--grad-clip", "nan"], "'grad_clip'"),
    (["--grad-clip", "inf"], "'grad_clip'"),
    (["--ema", "nan"], "'ema'"),
    (["--mode-seeking", "nan"], "'mode_seeking'"),
    (["--beta1", "nan"], "'beta1'"),
    (["--beta2=-inf"], "'beta2'"),
    (["--lsgan-abc", "nan,1,1"], "'lsgan_abc'"),
    (["--dataset", "gaussian1d", "--toy-option", "mu=inf"], "'toy_options'"),
    (["--data-dir", "data\0dir"], "'data_dir'"),
]


@pytest.mark.parametrize("flags,key", FLAGS, ids=lambda v: " ".join(v).replace("\0", "NUL") if isinstance(v, list)
                         else None)
def test_bad_train_flag_is_refused_and_writes_nothing(flags: list[str], key: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new-run"
    refused(capsys, ["train", *TINY, "--out", str(out), *flags], key)
    assert not out.exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "--steps", "abc"], "--steps"),
    (["train", "--loss", "nope"], "--loss"),
    (["frob"], "frob"),
    ([], "VERB"),
    (["sample"], "run"),
    (["evaluate", "--n", "1.5", "x"], "--n"),
])
def test_unparsable_flags_are_one_line(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors follow the convention too: one line naming the flag, exit 2, no usage block."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and words in err and "--help" in err, err


def test_nan_flag_never_reaches_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NaN passes every comparison-based range check, so it used to be written into config.json and trained on."""
    for flag in ("--r1", "--instance-noise", "--gp-weight"):
        out = tmp_path / flag.strip("-")
        refused(capsys, ["train", *TINY, "--out", str(out), flag, "nan"], "finite")
        assert not (out / "config.json").exists()


def test_resume_with_bad_flag_leaves_run_unchanged(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(run)
    refused(capsys, ["train", "--resume", str(run), "--steps", str(2**70), "--no-progress"], "'steps'")
    assert tree(run) == before


def test_largest_seed_trains(tmp_path: Path) -> None:
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--eval-n", "100", "--out", str(tmp_path / "r"),
                 "--seed", str(MAX_SEED)]) == 0  # the data order and the in-training scores derive seeds from it


def test_paths_with_newlines_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "two\nlines"
    line = refused(capsys, ["info", str(odd)], "two\\nlines")
    assert "not a gankit run directory" in line
    refused(capsys, ["train", *TINY, "--out", str(tmp_path / "r"), "--config", str(odd)], "two\\nlines")


# ---------------------------------------------------------------------------------------------------- npy: data
def _npz_bytes(tmp_path: Path, **arrays: np.ndarray) -> bytes:
    np.savez(tmp_path / "tmp.npz", **arrays)
    return (tmp_path / "tmp.npz").read_bytes()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


NPY_FILES = [
    ("cut-header.npy", lambda t: _npy_bytes(np.zeros((40, 28, 28), np.uint8))[:30], "not a readable .npy"),
    ("open-paren.npy", lambda t: _npy_bytes(np.zeros((40, 28, 28), np.uint8)).replace(b"(40, 28, 28)", b"(40, 28, 28 "),
     "not a readable .npy"),
    ("not-a-zip.npz", lambda t: b"PK\x03\x04" + bytes(100), "not a readable .npz"),
    ("cut-zip.npz", lambda t: _npz_bytes(t, images=np.zeros((40, 28, 28), np.uint8))[:-30], "not a readable .npz"),
    ("huge-label.npz", lambda t: _npz_bytes(t, images=np.zeros((40, 28, 28), np.uint8),
                                            labels=np.r_[np.zeros(39, np.int64), 2**40]), "below 1000"),
]


@pytest.mark.parametrize("name,make,words", NPY_FILES, ids=[c[0] for c in NPY_FILES])
def test_bad_npy_data_is_refused(name: str, make, words: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    out = tmp_path / "new-run"
    refused(capsys, ["train", "--dataset", f"npy:{path}", "--model", "dcgan", "--conditional", "--steps", "1",
                     "--batch-size", "8", "--no-progress", "--out", str(out)], str(path), words)
    assert not out.exists()


def test_npz_member_past_memory_is_refused_before_inflating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import gankit.data.arrays as arrays

    monkeypatch.setattr(arrays, "physical_memory", lambda: 2 << 20)  # a 2 MiB machine: 1 MiB per member at most
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, images=np.zeros((2000, 28, 28), np.uint8))  # 1.5 MB unpacked, a few KB packed
    refused(capsys, ["train", "--dataset", f"npy:{path}", "--steps", "1", "--no-progress", "--out",
                     str(tmp_path / "r")], str(path), "memory")


# ---------------------------------------------------------------------------------------------------- --config files
def _bomb(depth: int) -> str:
    return "[" * depth + "]" * depth


CONFIGS = [
    ("nested.json", _bomb(100_000), "nested too deeply"),
    ("nested-object.json", '{"toy_options": ' + _bomb(50_000) + "}", "nested too deeply"),
    ("bigint.json", '{"seed": ' + "9" * 5000 + "}", "4300"),
    ("bigint-float-key.json", '{"lr_g": ' + "9" * 4000 + "}", "'lr_g'"),
    ("nan.json", '{"lr_g": NaN}', "'lr_g'"),
    ("infinity.json", '{"gp_weight": -Infinity}', "'gp_weight'"),
    ("toy.json", '{"toy_options": {"mu": 1e999}}', "'toy_options'"),
    ("huge.json", '{"out": "' + "x" * (2 << 20) + '"}', "MiB"),
    ("not-utf8.json", b"\xff\xfe{}", "UTF-8"),
    ("list.json", "[1, 2]", "expected a JSON object"),
    ("wrong-type.json", '{"steps": "10"}', "'steps'"),
    ("unknown.json", '{"lr_G": 1}', "'lr_G'"),
    ("seed.json", '{"seed": 18446744073709551616}', "'seed'"),
    ("empty.json", "", "not a readable JSON config"),
]


@pytest.mark.parametrize("name,content,words", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_config_file_is_refused(name: str, content: str | bytes, words: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "new-run"
    refused(capsys, ["train", *TINY, "--out", str(out), "--config", str(path)], str(path), words)
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_config_that_is_a_folder_or_fifo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)  # reading it would block forever
    for path, words in ((tmp_path, "a folder"), (fifo, "not a regular file")):
        refused(capsys, ["train", *TINY, "--out", str(tmp_path / "new-run"), "--config", str(path)], str(path), words)


def test_resume_with_bad_config_file_leaves_run_unchanged(run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for content in (_bomb(100_000), "[1]", '{"seed": ' + "1" * 5000 + "}"):
        path = tmp_path / "c.json"
        path.write_text(content)
        before = tree(run)
        refused(capsys, ["train", "--resume", str(run), "--config", str(path)], str(path))
        assert tree(run) == before


# ---------------------------------------------------------------------------------------------------- info
def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


INFO_CONFIGS = [
    ("not JSON", lambda c: "{not json", "not a readable JSON config"),
    ("a list", lambda c: "[1, 2]", "expected a JSON object"),
    ("model is a number", lambda c: json.dumps({**c, "model": 5}), "'model'"),
    ("conditional is a string", lambda c: json.dumps({**c, "conditional": "yes"}), "'conditional'"),
    ("nested", lambda c: _bomb(100_000), "nested too deeply"),
    ("long integer", lambda c: '{"seed": ' + "9" * 5000 + "}", "4300"),
    ("huge", lambda c: json.dumps({**c, "out": "x" * (2 << 20)}), "MiB"),
    ("NaN", lambda c: json.dumps({**c, "lr_g": float("nan")}), "'lr_g'"),
]


@pytest.mark.parametrize("what,make,words", INFO_CONFIGS, ids=[c[0] for c in INFO_CONFIGS])
def test_info_on_malformed_config(what: str, make, words: str, run: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    (run / "config.json").write_text(make(_config(run)))
    before = tree(run)
    refused(capsys, ["info", str(run)], str(run / "config.json"), words)
    assert tree(run) == before


INFO_METRICS = [
    ("a list line", "[1, 2]\n", "not an object"),
    ("a number line", '{"step": 1}\n5\n', "not an object"),
    ("a string loss", '{"step": 3, "Loss/D": "low"}\n', "'Loss/D'"),
    ("a string step", '{"step": "3"}\n', "'step'"),
    ("no step", '{"Loss/D": 1.0}\n', "'step'"),
    ("a bool time", '{"step": 3, "time_s": true}\n', "'time_s'"),
    ("nested", _bomb(100_000) + "\n", "nested too deeply"),
    ("long integer", '{"step": ' + "9" * 5000 + "}\n", "4300"),
    ("not UTF-8", b"\xff\xfe\n", "UTF-8"),
]


@pytest.mark.parametrize("what,content,words", INFO_METRICS, ids=[c[0] for c in INFO_METRICS])
def test_info_on_malformed_metrics(what: str, content: str | bytes, words: str, run: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    (run / "metrics.jsonl").write_bytes(content if isinstance(content, bytes) else content.encode())
    before = tree(run)
    refused(capsys, ["info", str(run)], str(run / "metrics.jsonl"), words)
    assert tree(run) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_info_on_fifo_files(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("metrics.jsonl", "config.json"):
        (run / name).rename(run / (name + ".bak"))
        os.mkfifo(run / name)
        refused(capsys, ["info", str(run)], str(run / name), "not a regular file")
        (run / name).unlink()
        (run / (name + ".bak")).rename(run / name)


def test_info_still_reads_a_good_run(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "ring8" in out and "trained      4 / 4 steps" in out
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["last_metrics"]["step"] == 4


RUN_CONFIGS = [c for c in INFO_CONFIGS if c[0] in ("not JSON", "a list", "nested", "long integer", "huge")] + [
    ("not UTF-8", lambda c: b"\xff\xfe{}", "UTF-8"),
]


@pytest.mark.parametrize("verb", ["doctor", "resume"])
@pytest.mark.parametrize("what,make,words", RUN_CONFIGS, ids=[c[0] for c in RUN_CONFIGS])
def test_doctor_and_resume_on_malformed_config(verb: str, what: str, make, words: str, run: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    content = make(_config(run))
    (run / "config.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    before = tree(run)
    argv = ["doctor", str(run)] if verb == "doctor" else ["train", "--resume", str(run), "--no-progress"]
    refused(capsys, argv, str(run / "config.json"), words)
    assert tree(run) == before


def test_doctor_and_resume_skip_corrupt_metric_rows(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lines of metrics.jsonl that are not rows (a string step, not UTF-8, a list, nesting) are passed over by
    the readers that only need the rows: doctor reports, resume continues and its log keeps only good rows."""
    good = (run / "metrics.jsonl").read_bytes()
    junk = b'{"step": "x", "Loss/D": 1}\n\xff\xfe\n[1, 2]\n' + _bomb(100_000).encode() + b"\n"
    (run / "metrics.jsonl").write_bytes(good + junk)
    assert main(["doctor", str(run)]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [json.loads(line)["step"] for line in good.decode().splitlines()] + [8]


def _adam(meta: dict, name: str, **change) -> dict:
    return {**meta[name], **change}


CHECKPOINT_META = [
    ("step", lambda m: "abc"), ("step", lambda m: None), ("step", lambda m: -5), ("step", lambda m: 1.5),
    ("step", lambda m: 10**30), ("step", lambda m: True), ("data_shape", lambda m: "x"), ("data_shape", lambda m: [0]),
    ("num_classes", lambda m: "8"), ("class_names", lambda m: [1]), ("elapsed_s", lambda m: "x"),
    ("config", lambda m: [1]), ("rng", lambda m: 5), ("opt_G", lambda m: 5),
    ("opt_D", lambda m: _adam(m, "opt_D", entries={"a": ["x"]})),
    ("opt_D", lambda m: _adam(m, "opt_D", scalars={"0": {"step": "x"}})),
    ("opt_D", lambda m: _adam(m, "opt_D", param_groups=[{**m["opt_D"]["param_groups"][0], "lr": "fast"}])),
    ("opt_D", lambda m: _adam(m, "opt_D", param_groups="x")),
]


@pytest.mark.parametrize("key,make", CHECKPOINT_META, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CHECKPOINT_META)])
def test_checkpoint_metadata_of_the_wrong_kind(key: str, make, run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint whose metadata was rewritten, with its integrity record made to match: resume and sample
    refuse it in one line naming the file (and resume falls back to nothing older here), nothing written."""
    path = run / "checkpoints" / "step_0000004.safetensors"
    tensors, meta = ckpt.load(path)
    ckpt.save(path, tensors, {**meta, key: make(meta)})
    before = tree(run)
    refused(capsys, ["train", "--resume", str(run), "--steps", "6", "--no-progress"], str(path))
    if not key.startswith("opt_"):  # sampling reads only G's weights and the run's description
        refused(capsys, ["sample", str(run), "--n", "4"], str(path), repr(key))
    assert tree(run) == before


# ---------------------------------------------------------------------------------------------------- evaluate
EVAL_FLAGS = [
    (["--n", "0"], "--n"),
    (["--n", str(10**12)], "--n"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**64)], "--seed"),
]


@pytest.mark.parametrize("flags,words", EVAL_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_evaluate_bad_flags(flags: list[str], words: str, run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(run)
    refused(capsys, ["evaluate", str(run), *flags], words)
    assert tree(run) == before


def test_evaluate_json_into_a_folder_is_refused_before_scoring(run: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, ["evaluate", str(run), "--n", "100", "--json", str(tmp_path)], str(tmp_path))


def _rewrite_generator(run: Path, change) -> None:
    """Apply `change` to every generator tensor of the run's checkpoint (G and its EMA copy), through safetensors;
    the integrity digests are dropped, as a file written by another tool would lack them."""
    (path,) = (run / "checkpoints").glob("*.safetensors")
    with safe_open(path, "pt") as f:
        meta = {k: v for k, v in f.metadata().items() if k != "gankit_sha256"}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for k, v in tensors.items():
        if k.startswith(("G/", "G_ema/")) and v.is_floating_point():
            tensors[k] = change(k, v)
    save_file(tensors, path, metadata=meta)


def test_evaluate_nan_weights(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _rewrite_generator(run, lambda k, v: torch.full_like(v, float("nan")))
    before = tree(run)
    refused(capsys, ["evaluate", str(run), "--n", "200"], str(run))
    assert tree(run) == before


def test_evaluate_generator_whose_samples_overflow(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finite weights whose samples are not (they overflow float32): named by evaluate, not scored as numbers."""
    # the output layer of the ring8 MLP's G (and of its EMA copy)
    _rewrite_generator(run, lambda k, v: torch.full_like(v, 3e38) if k.endswith("net.4.weight") else v)
    before = tree(run)
    refused(capsys, ["evaluate", str(run), "--n", "200"], str(run), "not finite")
    assert tree(run) == before


def test_classifier_file_with_bad_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gankit import checkpoint as ckpt
    from gankit.evaluation.classifier import DomainClassifier

    images = tmp_path / "x.npy"
    np.save(images, np.zeros((20, 28, 28), np.uint8))
    for info in ({"num_classes": "ten"}, {"num_classes": 10**9}, {"test_accuracy": "high"}):
        path = tmp_path / "c.safetensors"
        ckpt.save(path, ckpt.pack_module("model", DomainClassifier(10)), {"classifier": {"dataset": "mnist", **info}})
        refused(capsys, ["evaluate", "--images", str(images), "--dataset", "mnist5k", "--classifier", str(path)],
                str(path), repr(next(iter(info))))


def test_train_classifier_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.safetensors"
    base = ["train-classifier", "--dataset", "mnist", "--out", str(out)]
    for flags, words in ((["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"), (["--epochs", str(10**9)], "--epochs"),
                         (["--batch-size", "0"], "--batch-size"), (["--seed", "-5"], "--seed"),
                         (["--out", str(tmp_path)], "--out")):
        refused(capsys, [*base, *flags], words)
    assert not out.exists()
