"""Helpers shared by test modules (imported as `helpers`: pytest puts tests/ on sys.path)."""

import subprocess
import sys


def gk(*args, check=True):
    """Run the gankit CLI in a subprocess; with check, fail the test on a non-zero exit with its stderr."""
    r = subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def refused(capsys, argv, *names):
    """Run the CLI in-process; it must exit 2 with one line on stderr, `gankit: error: ...`, naming each of
    `names` and holding no traceback. Returns the line."""
    from gankit.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("gankit: error: "), err
    for name in names:
        assert name in err, (name, err)
    return err.strip()
