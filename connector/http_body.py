"""The httpx pieces the Saber and account-group transports share: the client, and a capped read.

Both APIs take a bearer key and answer JSON; one client builder keeps their headers and timeouts
from drifting apart.

An answer bigger than either API ever sends (a misrouted download, a runaway proxy) must not be
held in memory: a success that big is refused with the caller's error, an error answer is cut
(its first bytes still say what went wrong).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connector import __version__
from connector.http_policy import CallPolicy

# Headers that described the body as it came over the wire, not the body kept.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def bearer_client(base_url: str, api_key: str, policy: CallPolicy) -> httpx.Client:
    """An httpx client for a bearer-key JSON API, with the policy's timeouts (thread-safe, pooled)."""
    return httpx.Client(
        base_url=base_url,
        headers={
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"saber-connector/{__version__}",
            "Accept": "application/json",
        },
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
    )


def read_capped(
    response: httpx.Response, limit: int, too_large: Callable[[str, int], Exception]
) -> httpx.Response:
    """The answer with at most `limit` bytes of body read; a bigger success: `too_large(text, status)`."""
    chunks: list[bytes] = []
    size = 0
    try:
        declared = response.headers.get("Content-Length", "")
        too_big = declared.isdigit() and int(declared) > limit
        if not too_big:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    too_big = True
                    break
                chunks.append(chunk)
    finally:
        response.close()
    if too_big and response.is_success:
        raise too_large(f"answer larger than {limit} bytes; not read", response.status_code)
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in WIRE_HEADERS]
    body = b"".join(chunks)
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)
