"""One webhook POST: to an address the guard has checked, with a timeout, never redirected.

urllib3 is used directly so the connection goes to the checked IP address while the ``Host``
header, TLS SNI and certificate check use the URL's host name (requests would resolve the name
again, which DNS rebinding could exploit).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError

from analytics.webhooks.ssrf import IpAddress, Target

USER_AGENT = "gpu-analytics-webhooks/1.0"
_MAX_ERROR = 300


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    target: Target,
    address: IpAddress,
    body: bytes,
    headers: Mapping[str, str],
    timeout_seconds: float,
) -> SendResult:
    """POST ``body``; a 2xx answer is success, anything else (3xx included) an error."""
    host = str(address)
    timeout = urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        literal = _is_ip(target.host)
        pool = urllib3.HTTPSConnectionPool(
            host,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=None if literal else target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            host, target.port, timeout=timeout, retries=False, maxsize=1
        )
    request_headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            # Read a little to let the connection finish; the answer's body is not kept.
            response.read(4096, decode_content=False)
        finally:
            response.release_conn()
    except (HTTPError, OSError) as exc:
        return SendResult(None, _describe(exc))
    finally:
        pool.close()
    status = int(response.status)
    if 200 <= status < 300:
        return SendResult(status, None)
    if 300 <= status < 400:
        return SendResult(status, f"HTTP {status}: redirects are not followed")
    return SendResult(status, f"HTTP {status}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _describe(exc: BaseException) -> str:
    # The innermost cause names the real failure (refused, timed out, TLS); never the body.
    cause: BaseException = exc
    while getattr(cause, "reason", None) is not None and isinstance(cause.reason, BaseException):  # type: ignore[attr-defined]
        cause = cause.reason  # type: ignore[attr-defined]
    text = f"{type(cause).__name__}: {cause}"
    return text[:_MAX_ERROR]
