"""When the buffered worker hands a request to a thread: analytics.serving.arrival."""

from __future__ import annotations

import pytest

from analytics.serving.arrival import Arrival, arrival

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\n"


@pytest.mark.parametrize(
    ("buffer", "expected"),
    [
        (b"", Arrival.PARTIAL),
        (b"GET /x HTTP/1.1\r\nHost: h\r\n", Arrival.PARTIAL),
        (b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n", Arrival.COMPLETE),
        (HEAD + b"Content-Length: 5\r\n\r\nabc", Arrival.PARTIAL),
        (HEAD + b"content-length:5\r\n\r\nabcde", Arrival.COMPLETE),
        (HEAD + b"Content-Length: 5\r\n\r\nabcdeGET /", Arrival.COMPLETE),
        (HEAD + b"Content-Length: five\r\n\r\n", Arrival.COMPLETE),
        (HEAD + b"Content-Length: 1000\r\n\r\n", Arrival.COMPLETE),
        (HEAD + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", Arrival.HEAD_ONLY),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", Arrival.PARTIAL),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", Arrival.COMPLETE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Arrival.COMPLETE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"a" * 200, Arrival.COMPLETE),
        (b"GET /" + b"a" * 300, Arrival.COMPLETE),
    ],
    ids=[
        "nothing",
        "half-a-head",
        "head-without-body",
        "part-of-a-body",
        "whole-body",
        "pipelined-request-behind",
        "malformed-length",
        "body-over-the-limit",
        "expect-continue",
        "chunks-without-the-last",
        "chunks-with-the-last",
        "empty-chunked-body",
        "chunked-over-the-limit",
        "head-over-the-limit",
    ],
)
def test_arrival(buffer: bytes, expected: Arrival) -> None:
    assert arrival(buffer, head_limit_bytes=256, body_limit_bytes=100) is expected
