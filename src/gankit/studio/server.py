"""The studio's web app: `create_app(runs)` builds a Starlette application serving the three pages (lab, runs,
explore) from the package's static files and their JSON API.

Every error a request can cause comes back as a 4xx JSON object `{"error": "..."}` (one line, no traceback); a
request body is limited to MAX_BODY_BYTES and must be JSON; no request writes a file (the run folders are read,
images are made in memory)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import GankitError, shown
from .explore import Explorer
from .lab import LabRunner, options, parse_config
from .runs import list_runs, run_detail, sample_path
from .security import MAX_BODY_BYTES, RequestError, bounded_int

STATIC = Path(__file__).parent / "static"
MAX_QUERY_BYTES = 4096
PAGES = {"/": "lab.html", "/lab": "lab.html", "/runs": "runs.html", "/run": "run.html", "/compare": "compare.html",
         "/explore": "explore.html"}
# the pages load only their own files: no CDN, no inline script from elsewhere
CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


class Limits:
    """ASGI middleware: refuse an oversized body (413) or query string (414) before any endpoint runs, and add
    the security headers to every response."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _error(f"the query string is longer than {MAX_QUERY_BYTES} bytes", 414)(scope, receive, send)
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _error(f"the request body is over {self.max_body} bytes", 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:  # a chunked body has no length up front: count as it arrives
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise RequestError(f"the request body is over {self.max_body} bytes", 413)
            return message

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"x-content-type-options", b"nosniff"), (b"content-security-policy", CSP.encode()),
                    (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, limited, headed)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": shown(message, 500)}, status_code=status)


async def _body(request: Request) -> Any:
    """The request's JSON object (POST bodies must be JSON: a cross-site form cannot send that content type)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise RequestError("send the request body as JSON (Content-Type: application/json)", 415)
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError("the request body is not valid JSON") from None


def create_app(runs: str | Path, *, allowed_hosts: list[str] | None = None, lab: LabRunner | None = None) -> Starlette:
    """The studio for run folders under `runs`. `allowed_hosts` (Host header values) guards a local server against
    DNS rebinding; `lab` lets a caller supply (and inspect) the lab's trainer thread."""
    root = Path(runs)
    runner = lab or LabRunner()
    explorer = Explorer(root)

    def page(name: str) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            return FileResponse(STATIC / name, media_type="text/html")
        return serve

    # ------------------------------------------------------------------ lab
    def lab_options(request: Request) -> Response:
        return JSONResponse(options())

    def lab_state(request: Request) -> Response:
        since = bounded_int(request.query_params.get("since", "-1"), "since", -1, 10**9)
        body = runner.state_json(since, real=request.query_params.get("real", "") == "1")
        return Response(body, media_type="application/json")

    def lab_status(request: Request) -> Response:  # the counters alone, without drawing a frame
        return JSONResponse(runner.status())

    async def lab_start(request: Request) -> Response:
        await _body(request)
        runner.start()
        return JSONResponse({"ok": True})

    async def lab_pause(request: Request) -> Response:
        await _body(request)
        await run_in_threadpool(runner.pause)
        return JSONResponse({"ok": True})

    async def lab_step(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        n = bounded_int(body.get("n", 1), "n", 1, 500)
        await run_in_threadpool(runner.step, n)
        return JSONResponse({"ok": True, "step": runner.trainer.step_count})

    async def lab_reset(request: Request) -> Response:
        cfg = parse_config(await _body(request))
        await run_in_threadpool(runner.reset, cfg)
        return JSONResponse({"ok": True})

    async def lab_params(request: Request) -> Response:
        cfg = await run_in_threadpool(runner.update, await _body(request))
        return JSONResponse({"ok": True, "settings": {k: getattr(cfg, k) for k in ("loss", "lr_g", "lr_d", "d_steps",
                                                                                   "label_smoothing")}})

    # ------------------------------------------------------------------ runs
    def runs_list(request: Request) -> Response:
        return JSONResponse({"runs": list_runs(root)})

    def run_info(request: Request) -> Response:
        return JSONResponse(run_detail(root, request.query_params.get("run", "")))

    def run_sample(request: Request) -> Response:
        step = bounded_int(request.query_params.get("step", ""), "step", 0, 10**9)
        return FileResponse(sample_path(root, request.query_params.get("run", ""), step), media_type="image/png")

    # ------------------------------------------------------------------ explore
    def explore_info(request: Request) -> Response:
        return JSONResponse(explorer.info(request.query_params.get("run", "")))

    def _image(kind: str, payload: Any) -> Response:
        if kind == "png":
            return Response(payload, media_type="image/png")
        return JSONResponse({"points": payload})

    def explore_grid(request: Request) -> Response:
        q = dict(request.query_params)
        return _image(*explorer.grid(q.get("run", ""), q))

    def explore_interpolate(request: Request) -> Response:
        q = dict(request.query_params)
        return _image(*explorer.interpolate(q.get("run", ""), q))

    # ------------------------------------------------------------------ errors: one line of JSON
    async def request_error(request: Request, exc: Exception) -> Response:
        status = exc.status if isinstance(exc, RequestError) else 400
        return _error(str(exc), status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(str(exc.detail), exc.status_code)

    async def internal_error(request: Request, exc: Exception) -> Response:
        return _error(f"internal error ({type(exc).__name__}); the studio keeps running", 500)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        runner.close()

    def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route(path, page(name)) for path, name in PAGES.items()] + [Route("/favicon.ico", no_icon)]
    routes += [
        Route("/api/lab/options", lab_options), Route("/api/lab/state", lab_state),
        Route("/api/lab/status", lab_status),
        Route("/api/lab/start", lab_start, methods=["POST"]), Route("/api/lab/pause", lab_pause, methods=["POST"]),
        Route("/api/lab/step", lab_step, methods=["POST"]), Route("/api/lab/reset", lab_reset, methods=["POST"]),
        Route("/api/lab/params", lab_params, methods=["POST"]),
        Route("/api/runs", runs_list), Route("/api/run", run_info), Route("/api/run/sample", run_sample),
        Route("/api/explore/info", explore_info), Route("/api/explore/grid", explore_grid),
        Route("/api/explore/interpolate", explore_interpolate),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(Limits)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        GankitError: request_error, HTTPException: http_error, Exception: internal_error}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)
    app.state.lab = runner
    app.state.runs = root
    return app
