"""The service's one small HTTP server: health, readiness, metrics and Saber's webhooks.

A threaded werkzeug server on `host:port` in a daemon thread (as the sandbox runs its fake
APIs): each request gets a thread of its own, so a slow request (a webhook whose callback
waits, a scrape) never holds up `/healthz`. Endpoints:

- `GET /healthz`: 200 `{"status": "ok"}` while the status source says the process is alive, else 503;
- `GET /readyz`: 200 or 503 as the status source's readiness says, with its dict as the body;
- `GET /metrics`: the `Metrics` registry in Prometheus text format;
- `GET /status`: the status page (HTML for people, `connector.service.status_page`), when the
  service passes `status_page` (`CONNECTOR_STATUS_PAGE`, on by default), else 404;
- `POST /webhooks/saber/<secret>`: a hint that a research or a signal finished (a signal's
  `id` is passed on as the research id: the runner tells them apart). A wrong secret (compared
  in constant time), or none configured, is answered exactly like an unknown path (404);
  a body over 1 MiB is 413 (by its Content-Length, and by what is read, for chunked
  bodies); a body that is not a JSON object naming a research id or an external id is 400;
  otherwise `on_webhook(research_id, external_id)` is called (it only enqueues) and the
  answer is 202 (503 if even that raised). Nothing in the body is trusted beyond those ids.

Anything else is 404, a known path with the wrong method 405. The secret never reaches a
log line: werkzeug's per-request log is off, and its error lines have the webhook path
masked.

A slow or stalled client (slow-loris) holds no thread for long: it has `REQUEST_TIMEOUT`
seconds to send a request's headers (after that the server hangs up), each read of the body
waits at most that long, and the whole body must arrive within it (else 400).
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from typing import Any, Protocol, Self, cast

from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connector.logs import get_logger, register_secret
from connector.service.metrics import Metrics

log = get_logger("http")

MAX_WEBHOOK_BYTES = 1 << 20  # 1 MiB: a research result is a few kB
READ_CHUNK = 64 * 1024
MAX_ID_LENGTH = 200  # longer "ids" are not ids (Saber's externalId is at most 100 characters)
WEBHOOK_PREFIX = "/webhooks/saber/"
POLL_INTERVAL = 0.05  # how often serve_forever looks for stop(): werkzeug's 0.5 s is slow to stop
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its headers, and its body (Saber's take ms)
WATCH_INTERVAL = 0.25  # how often the watch looks for clients past their time

# Where a webhook body may name the research: the body itself, or the research object
# nested in an event envelope. Keys in camelCase or snake_case.
RESEARCH_ID_KEYS = ("researchId", "research_id")
EXTERNAL_ID_KEYS = ("externalId", "external_id")
NESTED_KEYS = ("research", "data", "contactResearch", "contact_research", "payload")

_WEBHOOK_PATH = re.compile(r"/webhooks/saber/[^\s\"'?#]*")


class StatusSource(Protocol):
    """What the service knows of its own health (the runner implements it)."""

    def alive(self) -> bool:
        """True while the process and its scheduler run."""
        ...

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready or not, and the body `/readyz` shows (last cycle, the reason when not ready)."""
        ...


WebhookSecret = Callable[[], str | None]  # the configured secret, or None: webhooks are off
WebhookCallback = Callable[[str | None, str | None], None]  # (research_id, external_id); only enqueues
StatusPage = Callable[[], str]  # the status page's HTML, rendered at each request
# The page is self-contained: no script, no fetch, no frame; styles and pictures inline only.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class WebhookRejected(Exception):
    """A webhook answered with an error: its status, the body's message and the metric outcome."""

    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome


class ServiceHTTP:
    """The service's HTTP server: `start()` it (binds, serves in a daemon thread), `stop()` it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        status: StatusSource,
        metrics: Metrics,
        webhook_secret: WebhookSecret,
        on_webhook: WebhookCallback,
        status_page: StatusPage | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.status = status
        self.metrics = metrics
        self._webhook_secret = webhook_secret
        self._on_webhook = on_webhook
        self._status_page = status_page
        page = [Rule("/status", methods=["GET"], endpoint="status")] if status_page is not None else []
        self._url_map = Map(
            [
                Rule("/healthz", methods=["GET"], endpoint="healthz"),
                Rule("/readyz", methods=["GET"], endpoint="readyz"),
                Rule("/metrics", methods=["GET"], endpoint="metrics"),
                *page,
                Rule(f"{WEBHOOK_PREFIX}<path:secret>", methods=["POST"], endpoint="webhook"),
            ],
            merge_slashes=False,  # never a redirect, whose Location would repeat the secret
            strict_slashes=False,
        )
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._watch: _SlowClientWatch | None = None
        self._stopped = False

    # ------------------------------------------------------------------ life cycle
    def start(self) -> Self:
        """Bind `host:port` (port 0: any free one) and serve in a daemon thread; OSError if it cannot bind."""
        with self._lock:
            if self._server is not None or self._stopped:
                raise RuntimeError("ServiceHTTP can be started once")
            server = cast(  # threaded=True: one thread a request
                ThreadedWSGIServer,
                make_server(
                    self.host, self._requested_port, self.wsgi, threaded=True, request_handler=_QuietHandler
                ),
            )
            server.daemon_threads = True  # a slow request never holds up stop()
            self._watch = _SlowClientWatch(REQUEST_TIMEOUT).start()
            server.slow_client_watch = self._watch  # type: ignore[attr-defined]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name="service-http",
                daemon=True,
            )
            self._thread.start()
        log.info("http_server_started", host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (within about `POLL_INTERVAL`); a second call does nothing."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # returns once serve_forever has left its loop
        server.server_close()
        if self._watch is not None:
            self._watch.stop()
        if thread is not None:
            thread.join(timeout=5)
        log.info("http_server_stopped")

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when asked for port 0)."""
        if self._server is None:
            raise RuntimeError("ServiceHTTP is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """`http://host:port`, with the port it listens on."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ WSGI
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application (what the server runs); a bug is a logged 500, not werkzeug's log."""
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception as exc:
            log.error("http_request_failed", endpoint=_endpoint_name(request.path), error=repr(exc)[:200])
            response = _json(500, {"error": "internal error"})
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """The answer to one request."""
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return _not_found()
        except MethodNotAllowed as exc:
            response = _json(405, {"error": "method not allowed"})
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException:
            return _not_found()
        handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
        return handler(request, **values)

    # ------------------------------------------------------------------ endpoints
    def _healthz(self, request: Request) -> Response:
        try:
            alive = bool(self.status.alive())
        except Exception as exc:
            log.warning("healthz_failed", error=repr(exc)[:200])
            alive = False
        return _json(200, {"status": "ok"}) if alive else _json(503, {"status": "down"})

    def _readyz(self, request: Request) -> Response:
        try:
            ready, body = self.status.readiness()
        except Exception as exc:
            log.warning("readyz_failed", error=repr(exc)[:200])
            ready, body = False, {"ready": False, "reason": f"readiness check failed: {type(exc).__name__}"}
        return _json(200 if ready else 503, dict(body))

    def _metrics(self, request: Request) -> Response:
        response = Response(self.metrics.exposition(), status=200, content_type=CONTENT_TYPE_LATEST)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _status(self, request: Request) -> Response:
        assert self._status_page is not None  # the route exists only with a page
        response = Response(self._status_page(), status=200, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _webhook(self, request: Request, secret: str) -> Response:
        try:
            research_id, external_id = self._accept(request, secret)
        except WebhookRejected as exc:
            self.metrics.webhook(exc.outcome)
            log.info("webhook_rejected", outcome=exc.outcome, status=exc.status, reason=exc.message)
            if exc.status == 404:
                return _not_found()
            return _json(exc.status, {"error": exc.message})
        try:
            self._on_webhook(research_id, external_id)
        except Exception as exc:  # it only enqueues; if even that fails, Saber may send it again
            self.metrics.webhook("error")
            log.warning(
                "webhook_failed", research_id=research_id, external_id=external_id, error=repr(exc)[:200]
            )
            return _json(503, {"error": "could not take the notification now"})
        self.metrics.webhook("accepted")
        log.info("webhook_accepted", research_id=research_id, external_id=external_id)
        return _json(202, {"accepted": True})

    def _accept(self, request: Request, secret: str) -> tuple[str | None, str | None]:
        """The ids a webhook names, or `WebhookRejected` saying why not."""
        if not self._secret_matches(secret):
            raise WebhookRejected(404, "not found", "bad_secret")
        length = request.content_length
        if length is not None and length > MAX_WEBHOOK_BYTES:
            raise WebhookRejected(413, f"body over {MAX_WEBHOOK_BYTES} bytes", "too_large")
        try:
            raw = _read_capped(request.stream, MAX_WEBHOOK_BYTES, time.monotonic() + REQUEST_TIMEOUT)
        except (OSError, ValueError, HTTPException) as exc:  # a broken chunked body, a client gone, too slow
            raise WebhookRejected(
                400, f"could not read the body ({type(exc).__name__})", "malformed"
            ) from None
        if raw is None:
            raise WebhookRejected(413, f"body over {MAX_WEBHOOK_BYTES} bytes", "too_large")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError included; RecursionError: [[[[…]]]]
            raise WebhookRejected(400, "body is not valid JSON", "malformed") from None
        if not isinstance(body, dict):
            raise WebhookRejected(400, "body is not a JSON object", "malformed")
        research_id, external_id = webhook_ids(body)
        if research_id is None and external_id is None:
            raise WebhookRejected(400, "body names no research id or externalId", "malformed")
        return research_id, external_id

    def _secret_matches(self, given: str) -> bool:
        try:
            expected = self._webhook_secret()
        except Exception as exc:
            log.warning("webhook_secret_unavailable", error=type(exc).__name__)
            return False
        if not expected:
            return False
        register_secret(expected)  # whatever else logs it, it is masked
        return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


# ---------------------------------------------------------------------- the webhook body
def webhook_ids(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The research id and external id a webhook body names (either may be None).

    The research id: `researchId`/`research_id`, else the `id` of a nested research object
    (`research`, `data`, ...), else the body's own `id` (Saber posts the research itself).
    An explicit research id or a nested object beats a top-level `id`, which in an event
    envelope is the event's. The external id: `externalId`/`external_id` of the body, else
    of the nested object.
    """
    nested = [value for key in NESTED_KEYS if isinstance(value := body.get(key), Mapping)]
    research_id = _first_id(body, RESEARCH_ID_KEYS)
    for obj in nested:
        research_id = research_id or _first_id(obj, (*RESEARCH_ID_KEYS, "id"))
    research_id = research_id or _first_id(body, ("id",))
    external_id = _first_id(body, EXTERNAL_ID_KEYS)
    for obj in nested:
        external_id = external_id or _first_id(obj, EXTERNAL_ID_KEYS)
    return research_id, external_id


def _first_id(obj: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            value = value.strip()
            if value and len(value) <= MAX_ID_LENGTH and value.isprintable():
                return value
    return None


def _read_capped(stream: Any, limit: int, deadline: float) -> bytes | None:
    """The whole body, or None as soon as it is longer than `limit` (never reads much past it);
    TimeoutError when it has not all arrived by `deadline` (a client trickling it in)."""
    parts: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("the body took too long to arrive")
        chunk = stream.read(min(READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


# ---------------------------------------------------------------------- responses
def _json(status: int, body: Mapping[str, Any]) -> Response:
    response = Response(
        json.dumps(body, default=str, sort_keys=True), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found() -> Response:
    """The one 404: an unknown path and a webhook with a wrong secret look the same."""
    return _json(404, {"error": "not found"})


def _endpoint_name(path: str) -> str:
    """A path fit for a log line: the webhook path without its secret."""
    return mask_webhook_path(path)[:200]


def mask_webhook_path(text: str) -> str:
    """`text` with the secret of any webhook path in it replaced by `***`."""
    return _WEBHOOK_PATH.sub(f"{WEBHOOK_PREFIX}***", text)


class _SlowClientWatch:
    """Hangs up on connections that take longer than `timeout` to send a request's headers.

    A socket timeout alone bounds each read, not the whole: a client sending a byte every
    few seconds (slow-loris) would hold its thread for ever. One thread checks every
    connection waiting for its headers (an idle keep-alive one included).
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, float] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="service-http-watch", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def waiting(self, sock: socket.socket) -> None:
        """`sock` starts waiting for a request's headers."""
        with self._lock:
            self._waiting[sock] = time.monotonic() + self.timeout

    def done(self, sock: socket.socket) -> None:
        """`sock` sent its headers (or is closed): the application has it now."""
        with self._lock:
            self._waiting.pop(sock, None)

    def _run(self) -> None:
        while not self._stopped.wait(WATCH_INTERVAL):
            now = time.monotonic()
            with self._lock:
                late = [sock for sock, deadline in self._waiting.items() if deadline <= now]
                for sock in late:
                    del self._waiting[sock]
            for sock in late:
                with suppress(OSError):  # the handler's read returns nothing, and it closes the connection
                    sock.shutdown(socket.SHUT_RDWR)


class _QuietHandler(WSGIRequestHandler):
    """No line per request (it would show the webhook path); errors as log events and error pages masked.

    Every read and write of the socket times out after `REQUEST_TIMEOUT` (`timeout`, set by
    `StreamRequestHandler`), and the server's slow-client watch bounds the headers as a whole.
    """

    timeout = REQUEST_TIMEOUT

    def handle_one_request(self) -> None:
        watch: _SlowClientWatch | None = getattr(self.server, "slow_client_watch", None)
        if watch is None:
            super().handle_one_request()
            return
        watch.waiting(self.connection)
        try:
            super().handle_one_request()
        finally:
            watch.done(self.connection)

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers
        watch: _SlowClientWatch | None = getattr(self.server, "slow_client_watch", None)
        if watch is not None:
            watch.done(self.connection)
        return parsed

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's error page for a broken request line quotes that line, path and all.
        super().send_error(code, mask_webhook_path(message) if message else message, explain)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        if type != "error":
            return
        if message.startswith("Request timed out"):  # an idle keep-alive client, or a stalled one: dropped
            log.debug("http_client_timed_out")
            return
        try:
            text = message % args if args else message
        except (TypeError, ValueError):
            text = message
        log.warning("http_server_error", detail=mask_webhook_path(str(text))[:2000])
