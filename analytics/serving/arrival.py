"""Whether the bytes a client has sent so far hold one whole HTTP/1.1 request.

The serving worker reads in its event loop until this says a request has arrived, so a thread
only ever parses bytes that are already in memory (analytics.serving.worker). The check is
deliberately loose: anything it cannot make sense of counts as arrived, and gunicorn's own
parser then answers it (400, 413, 431, ...) at once, since there is nothing more to wait for.
"""

from __future__ import annotations

import enum

_HEAD_END = b"\r\n\r\n"
# The last chunk (size 0) with no trailers, at the start of the body or after a chunk.
_LAST_CHUNK = b"0\r\n\r\n"


class Arrival(enum.Enum):
    PARTIAL = "partial"  # wait for more bytes
    COMPLETE = "complete"  # the head and the whole body are in the buffer
    HEAD_ONLY = "head-only"  # hand over now: the client waits for us (Expect: 100-continue)


def arrival(buffer: bytes, head_limit_bytes: int, body_limit_bytes: int) -> Arrival:
    """How much of the first request in ``buffer`` has arrived.

    ``head_limit_bytes``: past this many bytes without the end of the head, hand it to the
    parser (it answers 414 or 431). ``body_limit_bytes``: a declared body larger than this is
    handed over after the head (the application answers 413 without reading it).
    """
    end = buffer.find(_HEAD_END)
    if end < 0:
        return Arrival.COMPLETE if len(buffer) > head_limit_bytes else Arrival.PARTIAL
    body = buffer[end + len(_HEAD_END) :]
    length: int | None = None
    chunked = False
    expects_continue = False
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            if not value.isdigit():
                return Arrival.COMPLETE  # malformed: the parser refuses it
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = chunked or b"chunked" in value
        elif name == b"expect":
            expects_continue = value == b"100-continue"
    if chunked:
        ended = body.startswith(_LAST_CHUNK) or b"\r\n" + _LAST_CHUNK in body
        if ended or len(body) > body_limit_bytes:
            return Arrival.COMPLETE
    elif length is None or length > body_limit_bytes or len(body) >= length:
        return Arrival.COMPLETE
    return Arrival.HEAD_ONLY if expects_continue else Arrival.PARTIAL
