"""Reading an API's answer with a cap on its size, for the Saber and account-group transports.

An answer bigger than either API ever sends (a misrouted download, a runaway proxy) must not be
held in memory: a success that big is refused with the caller's error, an error answer is cut
(its first bytes still say what went wrong).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

# Headers that described the body as it came over the wire, not the body kept.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


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
