"""The sandbox's shared HTTP machinery: a threaded loopback server with knobs and a log.

Each fake API (HubSpot, Saber) subclasses `SandboxServer`, supplies a werkzeug `Map` of
routes and handler methods, and says how it authenticates and how it shapes errors. This
base adds what both need: latency, random and scripted faults (5xx, 429 in the API's hint
styles, a connection reset before or after the request was applied, an answer slower than
the client waits), a whole-API outage (`Knobs.down`; `go_down`/`come_back` for refused
connections), a request log, per-endpoint counters and the faults served (`faults`).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self, cast

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Knobs:
    """Run-time dials of one fake API; tests change them while the server runs."""

    latency: float = 0.0  # seconds added to every answer
    latency_jitter: float = 0.0  # extra 0..jitter seconds, uniformly drawn
    error_rate: float = 0.0  # share of requests answered with a 5xx
    error_statuses: tuple[int, ...] = (500, 502, 503)
    throttle_rate: float = 0.0  # share of requests answered with a 429
    reset_rate: float = 0.0  # share of requests whose connection is reset
    seed: int | None = None
    # Faults that hurt more (all 0: off). Drawn from the same roll, after the ones above.
    reset_after_rate: float = 0.0  # the request is applied, then the connection is reset
    slow_rate: float = 0.0  # the request is applied, then answered after `slow_seconds`
    slow_seconds: float = 0.0  # set it past the client's read timeout to make it give up
    mixed_throttles: bool = False  # random 429s in every hint style the API uses, not just one
    # The whole API down: "reset" (every connection reset, nothing applied) or "timeout"
    # (every request held `slow_seconds`, then reset, nothing applied); None: up.
    down: str | None = None


@dataclass(frozen=True)
class Fault:
    """One scripted fault: answer `status` (or reset the connection when status is 0)."""

    status: int
    retry_after: float | None = None  # for 429: the hint the fake API gives
    header_only: bool = False  # for 429: give the hint only as a Retry-After header
    body: dict[str, Any] | None = None  # overrides the API's usual error body
    after: bool = False  # apply the request first, then reset (status 0) or answer `status` in its place
    slow: float = 0.0  # apply the request, then hold its answer this many seconds
    style: str = ""  # for 429: which of the API's hint styles (see `throttle_response`)


@dataclass(frozen=True)
class RecordedRequest:
    """What the sandbox saw of one request (the Authorization header is never kept)."""

    method: str
    path: str
    endpoint: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int
    at: float


@dataclass
class _ScriptedFaults:
    """Faults queued for the next requests whose endpoint matches (None: any endpoint)."""

    items: deque[tuple[str | None, Fault]] = field(default_factory=deque)

    def take(self, endpoint: str) -> Fault | None:
        for i, (wanted, fault) in enumerate(self.items):
            if wanted is None or wanted == endpoint:
                del self.items[i]
                return fault
        return None


class ConnectionReset(ConnectionResetError):
    """Raised inside a handler after the socket was reset, so werkzeug drops it quietly."""


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print a line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        return

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002,D102
        if type == "error":
            super().log(type, message, *args)


class SandboxServer:
    """A fake API on a free loopback port, run in a background thread.

    Subclasses set `url_map` (werkzeug rules whose endpoint is a method name) and
    override `authenticate`, `error_body` and `throttle_response`.
    """

    url_map: Map
    name = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, knobs: Knobs | None = None):
        self.knobs = knobs or Knobs()
        self._rng = random.Random(self.knobs.seed)
        self._lock = threading.RLock()
        self._faults = _ScriptedFaults()
        self.requests: list[RecordedRequest] = []
        self.counters: Counter[str] = Counter()
        # Faults served (scripted or random), by kind: "429 <style>", "500", "reset before",
        # "reset after", "slow", "down reset", "down timeout", and what subclasses add.
        self.faults: Counter[str] = Counter()
        self._host, self._port = host, port
        self._port_hold: socket.socket | None = None  # the port, held while down (see `go_down`)
        # Called with each request once it was applied, before its answer is sent: a test can
        # kill the client there, the worst moment for it (the API did it; the client never heard).
        self.on_request: list[Callable[[RecordedRequest], None]] = []
        self._server: BaseWSGIServer = make_server(
            host, port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        cast(Any, self._server).daemon_threads = True  # werkzeug's threaded server has it
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- life cycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        # Poll for shutdown every 50 ms (not werkzeug's 0.5 s), so stop() is quick in tests.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._port_hold is not None:  # down: the port is let go now
            self._port_hold.close()
            self._port_hold = None

    def go_down(self) -> None:
        """Stop listening (every connection refused) but keep the API's state, for `come_back`.

        The port stays held by a socket bound but not listening (a connection to it is refused):
        a server started meanwhile (another test's, in parallel) cannot take it and answer instead.
        """
        self._port = self._server.server_address[1]
        self.stop()
        self._port_hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._port_hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._port_hold.bind((self._host, self._port))

    def come_back(self) -> Self:
        """Listen again on the same port after `go_down`, with the state as it was."""
        if self._port_hold is not None:
            self._port_hold.close()
            self._port_hold = None
        self._server = make_server(
            self._host, self._port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        cast(Any, self._server).daemon_threads = True  # werkzeug's threaded server has it
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------- test controls
    def set_knobs(self, knobs: Knobs) -> None:
        """Replace the dials of the running server; a `seed` restarts its random faults from it."""
        with self._lock:
            self.knobs = knobs
            if knobs.seed is not None:
                self._rng.seed(knobs.seed)

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        endpoint: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status` (a 5xx, say), and `body` if given
        (an error that echoes the request, as some proxies do)."""
        self._script(count, Fault(status=status, body=body), endpoint)

    def throttle_next(
        self,
        count: int = 1,
        retry_after: float = 1.0,
        endpoint: str | None = None,
        header_only: bool = False,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` matching requests with 429 and a retry hint."""
        fault = Fault(status=429, retry_after=retry_after, header_only=header_only, body=body)
        self._script(count, fault, endpoint)

    def reset_next(self, count: int = 1, endpoint: str | None = None, *, after: bool = False) -> None:
        """Reset the connection of the next `count` matching requests (no answer at all);
        `after`: once each was applied (an answer lost, as a start whose retry must be replayed)."""
        self._script(count, Fault(status=0, after=after), endpoint)

    def clear_faults(self) -> None:
        """Drop every scripted fault not yet served (the API is healthy again)."""
        with self._lock:
            self._faults.items.clear()

    def _script(self, count: int, fault: Fault, endpoint: str | None) -> None:
        with self._lock:
            self._faults.items.extend((endpoint, fault) for _ in range(count))

    def count(self, endpoint: str | None = None, method: str | None = None) -> int:
        """Requests seen (answered or not) for an endpoint name, or in all."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (endpoint is None or r.endpoint == endpoint) and (method is None or r.method == method)
            )

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.counters.clear()

    # --------------------------------------------------------- subclass hooks
    def authenticate(self, request: Request) -> Response | None:
        """Return an error response when the request is not authorised, else None."""
        return None

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        """The API's own JSON body for an error with this status."""
        return {"error": code, "message": message}

    def throttle_response(self, request: Request, fault: Fault) -> Response:
        """The API's own 429 answer for a scripted or random throttle."""
        headers = {"Retry-After": fmt_seconds(fault.retry_after or 1)}
        return self.json(429, self.error_body(429, "TOO_MANY_REQUESTS", "Rate limit"), headers)

    def rate_limit(self, request: Request, endpoint: str) -> Response | None:
        """The API's real rate limits: return a 429 when over them, else None."""
        return None

    # --------------------------------------------------------------- helpers
    @staticmethod
    def json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    def error(self, status: int, code: str, message: str, **extra: Any) -> Response:
        body = self.error_body(status, code, message)
        body.update(extra)
        return self.json(status, body)

    def read_json(self, request: Request) -> Any:
        """The request body as JSON; raises `BadJson` when it is not."""
        raw = request.get_data(cache=True)
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadJson(str(exc)) from None

    # --------------------------------------------------------------- the WSGI app
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        endpoint: Any = "unknown"
        values: dict[str, Any] = {}
        with contextlib.suppress(NotFound, MethodNotAllowed):
            endpoint, matched = adapter.match()
            values = dict(matched)
        response = self._answer(request, endpoint, values, environ)
        self._record(request, endpoint, response.status_code)
        return response(environ, start_response)

    def _answer(
        self, request: Request, endpoint: str, values: dict[str, Any], environ: dict[str, Any]
    ) -> Response:
        down = self.knobs.down
        if down:
            with self._lock:
                self.faults[f"down {down}"] += 1
            if down == "timeout":
                time.sleep(self.knobs.slow_seconds)
            self._record(request, endpoint, 0)
            _reset(environ)
            raise ConnectionReset("sandbox is down")
        self._delay()
        with self._lock:
            fault = self._faults.take(endpoint) or self._random_fault()
            if fault is not None:
                self.faults[_fault_kind(fault)] += 1
        if fault is not None and (fault.after or fault.slow):
            response = self._apply(request, endpoint, values)
            if fault.slow:  # applied, answered too late: the client gave up (or not) meanwhile
                time.sleep(fault.slow)
                return response
            if fault.status:  # applied, then a proxy answers an error in its place (a 502 page)
                body = fault.body or self.error_body(fault.status, "BAD_GATEWAY", "Sandbox proxy fault")
                return self.json(fault.status, body)
            self._record(request, endpoint, 0)  # applied, but the client never hears of it
            _reset(environ)
            raise ConnectionReset("sandbox reset the connection after applying the request")
        if fault is not None:
            if fault.status == 0:
                self._record(request, endpoint, 0)
                _reset(environ)
                raise ConnectionReset("sandbox reset the connection")
            if fault.status == 429:
                return self.throttle_response(request, fault)
            body = fault.body or self.error_body(fault.status, "INTERNAL_ERROR", "Sandbox fault")
            return self.json(fault.status, body)
        return self._apply(request, endpoint, values)

    def _apply(self, request: Request, endpoint: str, values: dict[str, Any]) -> Response:
        """Authenticate, rate-limit and run the handler: what the API does with a request."""
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        if endpoint == "unknown":
            return self.error(404, "NOT_FOUND", f"No route for {request.method} {request.path}")
        limited = self.rate_limit(request, endpoint)
        if limited is not None:
            return limited
        try:
            return getattr(self, endpoint)(request, **values)
        except BadJson as exc:
            return self.error(400, "BAD_REQUEST", f"Invalid JSON in request body ({exc})")
        except HTTPException as exc:
            return self.error(exc.code or 500, exc.name.upper().replace(" ", "_"), str(exc))

    def _random_fault(self) -> Fault | None:
        k = self.knobs
        roll = self._rng.random()
        if roll < k.reset_rate:
            return Fault(status=0)
        roll -= k.reset_rate
        if roll < k.error_rate:
            return Fault(status=self._rng.choice(k.error_statuses))
        roll -= k.error_rate
        if roll < k.throttle_rate:
            if k.mixed_throttles:
                return self.random_throttle()
            return Fault(status=429, retry_after=0.05)
        roll -= k.throttle_rate
        if roll < k.reset_after_rate:
            return Fault(status=0, after=True)
        roll -= k.reset_after_rate
        if roll < k.slow_rate:
            return Fault(status=200, slow=k.slow_seconds)
        return None

    def random_throttle(self) -> Fault:
        """A 429 in one of the API's hint styles (subclasses name theirs; lock held)."""
        header_only = self._rng.random() < 0.5
        style = "header" if header_only else "body"
        return Fault(status=429, retry_after=0.05, header_only=header_only, style=style)

    def _delay(self) -> None:
        k = self.knobs
        delay = k.latency + (self._rng.uniform(0, k.latency_jitter) if k.latency_jitter else 0)
        if delay > 0:
            time.sleep(delay)

    def _record(self, request: Request, endpoint: str, status: int) -> None:
        body: Any = None
        raw = request.get_data(cache=True)
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            endpoint=endpoint,
            query={k: request.args.getlist(k) for k in request.args},
            headers=headers,
            body=body,
            status=status,
            at=time.time(),
        )
        with self._lock:
            self.requests.append(entry)
            self.counters[endpoint] += 1
            hooks = list(self.on_request)
        for hook in hooks:
            hook(entry)


class BadJson(ValueError):
    """The request body is not valid JSON."""


def _reset(environ: dict[str, Any]) -> None:
    """Drop the client's connection with no answer; with SO_LINGER 0 its close sends RST."""
    sock: socket.socket | None = environ.get("werkzeug.socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _fault_kind(fault: Fault) -> str:
    """The name `SandboxServer.faults` counts a fault under."""
    if fault.status == 0:
        return "reset after" if fault.after else "reset before"
    if fault.after:
        return f"{fault.status} after"
    if fault.slow:
        return "slow"
    if fault.status == 429:
        return f"429 {fault.style}".strip()
    return str(fault.status)


def fmt_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
