"""Run folders are safe against mistakes: what `gankit train` refuses to write into, the lock that keeps one
writer per folder, links planted in a folder, metadata rewritten atomically, and the bounds of sample/interpolate.

Every refusal is exit status 2 with one line on stderr naming the input, no traceback, and the folder (with
whatever its links point at) byte for byte as it was."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit import TrainConfig
from gankit.cli import main
from gankit.errors import ConfigError

TOY = ["--dataset", "ring8", "--model", "mlp", "--steps", "4", "--batch-size", "16", "--no-progress"]


# ------------------------------------------------------------------------------------------------ helpers
def snapshot(*roots: Path) -> dict[str, tuple[str, ...]]:
    """Every file (its hash), folder and link (its target) under each root, links not followed."""
    seen: dict[str, tuple[str, ...]] = {}

    def record(p: Path) -> None:
        if p.is_symlink():
            seen[str(p)] = ("link", os.readlink(p))
        elif p.is_dir():
            seen[str(p)] = ("dir",)
        elif p.exists():
            seen[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())

    for root in map(Path, roots):
        record(root)
        if root.is_dir() and not root.is_symlink():
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    record(Path(dirpath) / name)
    return seen


def gankit(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """`gankit ARGS` in this process: (exit status, stderr)."""
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def assert_refused(rc: int, err: str, *names: object) -> str:
    """Exit 2, one stderr line naming each of `names`, no traceback; returns the line."""
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def gankit_process(*args: object, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen([sys.executable, "-m", "gankit", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "run"
    assert main(["train", "--out", str(out), *TOY, "--log-every", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("image") / "run"
    assert main(["train", "--out", str(out), "--dataset", "mnist5k", "--model", "mlp", "--width", "32", "--steps",
                 "2", "--batch-size", "16", "--no-health", "--no-progress"]) == 0
    return out


@pytest.fixture
def run(toy_run: Path, tmp_path: Path) -> Path:
    """A private copy of a finished 4-step toy run (checkpoint at step 4, a metrics row per step)."""
    return Path(shutil.copytree(toy_run, tmp_path / "run", symlinks=True))


# ------------------------------------------------------------------------------------------------ --out
def _foreign(d: Path) -> None:
    (d / "notes.txt").write_text("mine")
    (d / "data").mkdir()
    (d / "data" / "x.csv").write_text("1,2\n")


def _foreign_with_run_names(d: Path) -> None:  # a user's files that happen to share a run's names
    (d / "metrics.jsonl").write_text('{"step": 1, "mine": true}\n')
    (d / "samples").mkdir()
    (d / "samples" / "step_0000001.png").write_bytes(b"my picture")
    (d / "losses.png").write_bytes(b"my plot")
    (d / "thesis.tex").write_text("chapter 1")


def _killed_before_first_checkpoint(d: Path) -> None:
    (d / "config.json").write_text(TrainConfig(out=str(d)).to_json())
    (d / "metrics.jsonl").write_text('{"step": 50}\n')
    (d / "samples").mkdir()
    (d / "samples" / "step_0000050.png").write_bytes(b"png")


@pytest.mark.parametrize("fill, expect", [
    (_foreign, "not a gankit run (holds data/, notes.txt)"),
    (_foreign_with_run_names, "not a gankit run (holds thesis.tex)"),
    (_killed_before_first_checkpoint, "no checkpoint to resume from"),
])
def test_train_refuses_a_non_empty_folder_that_is_not_a_run(tmp_path, capsys, fill, expect):
    out = tmp_path / "out"
    out.mkdir()
    fill(out)
    before = snapshot(out)
    line = assert_refused(*gankit(capsys, "train", "--out", out, *TOY), out, expect)
    assert "--out" in line
    assert snapshot(out) == before


def test_train_refuses_a_run_with_checkpoints_and_a_file(run, tmp_path, capsys):
    before = snapshot(run)
    assert_refused(*gankit(capsys, "train", "--out", run, *TOY), run, "--resume")
    assert snapshot(run) == before
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_refused(*gankit(capsys, "train", "--out", afile, *TOY), afile, "is a file")
    assert afile.read_text() == "x"


def test_train_into_an_empty_folder_runs_and_leaves_no_lock(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    rc, err = gankit(capsys, "train", "--out", out, *TOY)
    assert rc == 0, err
    assert (out / "checkpoints" / "step_0000004.safetensors").is_file() and not (out / ".lock").exists()


@pytest.mark.parametrize("flag", ["--out", "--resume"])
@pytest.mark.parametrize("value", ["", "  "])
def test_train_refuses_an_empty_path(tmp_path, capsys, monkeypatch, flag, value):
    monkeypatch.chdir(tmp_path)  # an empty path would be this folder
    (tmp_path / "keep.txt").write_text("x")
    before = snapshot(tmp_path)
    assert_refused(*gankit(capsys, "train", flag, value, *TOY), flag, "empty path")
    assert snapshot(tmp_path) == before


def test_config_refuses_an_empty_out():
    with pytest.raises(ConfigError, match="'out'"):
        TrainConfig(out="")


# ------------------------------------------------------------------------------------------------ the lock
def test_a_live_run_locks_its_folder_until_it_dies(tmp_path, capsys):
    out = tmp_path / "live"
    first = gankit_process("train", "--out", out, "--dataset", "ring8", "--model", "mlp", "--steps", "1000000",
                           "--batch-size", "16", "--ckpt-every", "20", "--no-progress", "--no-health")
    try:
        deadline = time.monotonic() + 120
        while not (list(out.glob("checkpoints/step_*.safetensors")) and (out / ".lock").exists()):
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the first run wrote no lock and no checkpoint"
            time.sleep(0.1)
        holder = f"pid {first.pid}"
        assert_refused(*gankit(capsys, "train", "--out", out, *TOY), out, holder)
        assert_refused(*gankit(capsys, "train", "--resume", out, "--steps", "200000"), out, holder)
        assert first.poll() is None  # the refusals left the live run alone
    finally:
        first.kill()  # SIGKILL: the OS drops its lock
        first.communicate()
    assert (out / ".lock").exists()  # a stale file, but no stale lock
    step = max(int(p.stem.split("_")[1]) for p in out.glob("checkpoints/step_*.safetensors"))
    rc, err = gankit(capsys, "train", "--resume", out, "--steps", step + 2)
    assert rc == 0, err
    assert (out / "checkpoints" / f"step_{step + 2:07d}.safetensors").is_file() and not (out / ".lock").exists()


def test_the_lock_is_exclusive_within_a_process_and_released_on_refusal(run, capsys):
    from gankit.runlock import RunInUse, RunLock

    with RunLock.acquire(run):
        with pytest.raises(RunInUse, match=f"pid {os.getpid()} on "):
            RunLock.acquire(run)
    assert not (run / ".lock").exists()
    before = snapshot(run)
    assert_refused(*gankit(capsys, "train", "--out", run, *TOY), "--resume")  # refused under the lock
    assert snapshot(run) == before  # and no lock file left behind


# ------------------------------------------------------------------------------------------------ links
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """What a planted link points at: a file and a folder outside the run."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim.txt").write_text("precious\n")
    (d / "folder").mkdir()
    (d / "folder" / "inside.txt").write_text("also precious\n")
    return d


def _plant(run: Path, name: str, outside: Path) -> None:
    entry = run / name
    target = outside / "folder" if entry.is_dir() else outside / "victim.txt"
    if entry.is_dir():
        shutil.copytree(entry, target, dirs_exist_ok=True)
        shutil.rmtree(entry)
    else:
        shutil.copy(entry, target)
        entry.unlink()
    entry.symlink_to(target)


VERBS = {"resume": ("train", "--resume", "{run}", "--steps", "6"), "doctor": ("doctor", "{run}"),
         "sample": ("sample", "{run}", "--n", "4")}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("name", ["config.json", "metrics.jsonl", "checkpoints", "samples"])
def test_linked_run_files_are_refused(run, outside, capsys, verb, name):
    _plant(run, name, outside)
    before = snapshot(run, outside)
    args = [a.format(run=run) for a in VERBS[verb]]
    assert_refused(*gankit(capsys, *args), run / name, "symbolic link")
    assert snapshot(run, outside) == before


@pytest.mark.parametrize("name, kind", [("metrics.jsonl", "a file, not a folder"),
                                        ("samples", "a folder, not a file")])
def test_run_files_of_the_wrong_kind_are_refused(run, capsys, name, kind):
    entry = run / name
    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    entry.mkdir() if kind.startswith("a file") else entry.write_text("x")
    before = snapshot(run)
    assert_refused(*gankit(capsys, "train", "--resume", run, "--steps", "6"), entry, kind)
    assert snapshot(run) == before


@pytest.mark.parametrize("args, written", [
    (("doctor", "{run}"), ["doctor.txt", "doctor.png"]),
    (("sample", "{run}", "--n", "4"), ["sample.png"]),
    (("train", "--resume", "{run}", "--steps", "6"),
     ["losses.png", "progress.gif", "samples/step_0000006.png"]),
    (("export", "{run}", "--format", "safetensors"), ["generator.safetensors", "generator.json"]),
    (("export", "{run}", "--format", "onnx", "--no-check"), ["generator.onnx"]),
])
def test_outputs_replace_planted_links_instead_of_writing_through_them(run, outside, capsys, args, written):
    for name in written:
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(outside / "victim.txt")
    before = snapshot(outside)
    rc, err = gankit(capsys, *[a.format(run=run) for a in args])
    assert rc == 0, err
    assert snapshot(outside) == before
    for name in written:
        assert (run / name).is_file() and not (run / name).is_symlink(), name


def test_written_files_get_the_umask_permissions(run, capsys):
    """Checkpoints and exports are written through temporary files; they end with the permissions a plain
    open gives (safetensors' own writer leaves 0600, which would hide a shared run from colleagues)."""
    plain = run / "plain"
    plain.write_text("")
    rc, err = gankit(capsys, "train", "--resume", run, "--steps", "6")
    assert rc == 0, err
    rc, err = gankit(capsys, "export", run, "--format", "safetensors")
    assert rc == 0, err
    for path in (run / "checkpoints" / "step_0000006.safetensors", run / "generator.safetensors"):
        assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777, path


def test_interpolate_replaces_a_planted_link(image_run, tmp_path, outside, capsys):
    run = Path(shutil.copytree(image_run, tmp_path / "run", symlinks=True))
    (run / "interpolation.png").symlink_to(outside / "victim.txt")
    before = snapshot(outside)
    rc, err = gankit(capsys, "interpolate", run, "--steps", "3")
    assert rc == 0, err
    assert snapshot(outside) == before and not (run / "interpolation.png").is_symlink()


def test_doctor_escapes_what_it_echoes(run, capsys):
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"] = "mlp\u2028INJECTED config\x1b[2J" + "A" * 5000
    cfg["dataset"] = "ring8\nINJECTED dataset"
    (run / "config.json").write_text(json.dumps(cfg))
    rows = (run / "metrics.jsonl").read_text().splitlines()
    row = json.loads(rows[-1])
    row["events"] = [{"event": "mode_collapse", "step": row["step"], "message": "m\rINJECTED message\x1b]0;t\x07",
                      "remedy": "r\u2029INJECTED remedy"}]
    (run / "metrics.jsonl").write_text("\n".join(rows[:-1] + [json.dumps(row)]) + "\n")
    rc, err = gankit(capsys, "doctor", run, "--no-plot")
    assert rc == 1, err  # the planted mode-collapse finding
    text = (run / "doctor.txt").read_text()
    assert not any(line.lstrip().startswith("INJECTED") for line in text.splitlines()), text
    assert not any(c in text for c in "\x1b\x07\r\u2028"), text
    assert "\\u2028INJECTED" in text and "\\x1b[2J" in text and len(text) < 3000


# ------------------------------------------------------------------------------------------------ atomic metadata
def _limit_file_size(limit: int) -> None:
    """In the child: a write past `limit` bytes of a file fails (EFBIG) after writing up to it, as on a full disk;
    a kill mid-write leaves a file in the same state."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _rewrite_rows(run: Path, keep: int, pad: int) -> None:
    """metrics.jsonl with its first `keep` rows, each padded by `pad` characters (as json.dumps writes them)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][:keep]
    (run / "metrics.jsonl").write_text("".join(json.dumps({**r, "note": "n" * pad}) + "\n" for r in rows))


@pytest.mark.parametrize("case, keep, pad", [
    ("the trim of metrics.jsonl fails half way", 4, 500),  # metrics.jsonl larger than config.json
    ("the write of config.json fails half way", 1, 0),  # the trim fits under the limit, config.json does not
])
def test_resume_rewrites_metadata_atomically(run, case, keep, pad):
    _rewrite_rows(run, keep, pad)
    sizes = sorted((run / n).stat().st_size for n in ("config.json", "metrics.jsonl"))
    limit = (sizes[0] + sizes[1]) // 2  # the smaller file fits, the larger one fails
    before = {n: (run / n).read_bytes() for n in ("config.json", "metrics.jsonl")}
    p = gankit_process("train", "--resume", run, "--steps", "8", preexec_fn=lambda: _limit_file_size(limit))
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "File too large" in err, err
    assert {n: (run / n).read_bytes() for n in before} == before, case


def test_a_failed_resume_keeps_config_json(run, monkeypatch):
    from gankit.errors import GankitError
    from gankit.training import hooks, resume

    def broken(*args, **kwargs):
        raise GankitError("the log cannot be opened")

    monkeypatch.setattr(hooks.MetricsLog, "__init__", broken)
    before = snapshot(run)
    with pytest.raises(GankitError, match="the log"):
        resume(run, steps=8, progress=False)
    assert snapshot(run) == before


# ------------------------------------------------------------------------------------------------ sample/interpolate
@pytest.mark.parametrize("args, names", [
    (("sample", "{run}", "--n", "0"), ["--n", "0"]),
    (("sample", "{run}", "--n", "-5"), ["--n", "-5"]),
    (("sample", "{run}", "--nrow", "0"), ["--nrow", "0"]),
    (("sample", "{run}", "--out", "{run}/samples"), ["--out", "samples", "folder"]),
    (("sample", "{run}", "--npy", "{run}/checkpoints"), ["--npy", "checkpoints", "folder"]),
    (("interpolate", "{image}", "--steps", "1"), ["--steps", "1"]),
    (("interpolate", "{image}", "--rows", "0"), ["--rows", "0"]),
    (("interpolate", "{image}", "--out", "{image}"), ["--out", "folder"]),
    (("interpolate", "{image}", "--gif", "{image}/samples"), ["--gif", "folder"]),
])
def test_sample_and_interpolate_bounds(run, image_run, tmp_path, capsys, args, names):
    image = Path(shutil.copytree(image_run, tmp_path / "image", symlinks=True))
    before = snapshot(run, image)
    assert_refused(*gankit(capsys, *[a.format(run=run, image=image) for a in args]), *names)
    assert snapshot(run, image) == before
