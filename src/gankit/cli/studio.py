"""The `gankit studio` verb: a local web app to watch a toy GAN learn live and explore run folders."""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, shown

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
EXTRA_HINT = "gankit studio needs its web server: pip install 'gankit[studio]'"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("studio", help="a local web app: watch a GAN learn, browse and explore runs",
                       description="Serve the studio on this machine: a live lab that trains a toy GAN while you "
                       "watch, the run folders under --runs with their curves, samples and the doctor's verdict, "
                       "and an explorer for a run's generator. Needs pip install 'gankit[studio]'.")
    p.add_argument("--runs", default="runs", metavar="DIR", help="folder whose run folders are served (default: runs)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only; the studio has no login)")
    p.set_defaults(func=cmd_studio)


def cmd_studio(args: argparse.Namespace) -> int:
    if any(importlib.util.find_spec(m) is None for m in ("starlette", "uvicorn")):
        raise ConfigError(EXTRA_HINT)
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    runs = Path(args.runs)
    if not runs.is_dir():
        raise ConfigError(f"--runs {shown(args.runs)} is not a folder")
    _check_listen(args.host, args.port)
    import uvicorn

    from ..studio.server import create_app

    local = args.host in LOCAL_HOSTS
    if not local:
        print(f"gankit: warning: --host {shown(args.host)} serves the studio beyond this machine; it has no login, "
              "so anyone who can reach it can read the runs under --runs and use its CPU", file=sys.stderr)
    hosts = [args.host, "127.0.0.1", "localhost", "[::1]"] if local else None  # a local server answers local names only
    app = create_app(runs, allowed_hosts=hosts)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"gankit studio: http://{shown_host}:{args.port}/ (runs from {shown(str(runs.resolve()))}; Ctrl-C stops)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_listen(host: str, port: int) -> None:
    """Refuse, in one line, an address this machine cannot listen on (a port in use, an unknown host): uvicorn
    would log it over several lines and exit 1."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(addr)
    except OSError as e:
        raise ConfigError(f"--host {shown(host)} --port {port}: cannot listen there "
                          f"({getattr(e, 'strerror', None) or e})") from None
