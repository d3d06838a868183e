"""Helpers shared by test modules (imported as `helpers`: pytest puts tests/ on sys.path)."""

import subprocess
import sys


def gk(*args, check=True):
    """Run the gankit CLI in a subprocess; with check, fail the test on a non-zero exit with its stderr."""
    r = subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r
