"""Helpers shared by test modules (imported as `helpers`: pytest puts tests/ on sys.path)."""

import socket
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


class BarLog:
    """Stands in for gankit.progress.bar and records every bar asked for: desc, total, units done, closed."""

    def __init__(self) -> None:
        self.bars: list[dict] = []

    def __call__(self, total: int, desc: str, unit: str = "it") -> "_LoggedBar":
        self.bars.append({"desc": desc, "total": total, "done": 0, "closed": False})
        return _LoggedBar(self.bars[-1])

    def one_full_bar(self, desc: str) -> bool:
        """Exactly one bar was drawn, named `desc`, announcing some work and advanced to exactly that, then closed."""
        return (len(self.bars) == 1 and self.bars[0]["desc"] == desc and self.bars[0]["total"] > 0
                and self.bars[0]["done"] == self.bars[0]["total"] and self.bars[0]["closed"])


class _LoggedBar:
    def __init__(self, record: dict) -> None:
        self.record = record

    def update(self, n: int = 1) -> None:
        self.record["done"] += n

    def close(self) -> None:
        self.record["closed"] = True

    def __enter__(self) -> "_LoggedBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a server or torchrun the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
