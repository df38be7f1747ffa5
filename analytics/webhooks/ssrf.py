"""The guard against server-side request forgery: which webhook URLs and addresses may be called.

Only ``http`` and ``https`` URLs with a host and no user info. Every address the host resolves
to must be public: loopback, private (RFC 1918, unique-local), link-local (169.254/16, the cloud
metadata address among them), shared (100.64/10), multicast, unspecified and reserved addresses
are refused unless they fall in a network of ``webhook_allowed_cidrs``. The check runs when a
webhook is registered and again before each delivery, on the addresses then resolved; the
sender connects to the checked address itself, so a DNS answer that changes in between (DNS
rebinding) cannot redirect it. Redirects are never followed (transport).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """The URL or an address it resolves to may not be called; ``reason`` says why."""

    def __init__(self, reason: str, address: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL, brackets removed for IPv6
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1/32"`` -> networks (the setting is validated at start-up)."""
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip()
    )


def parse_url(url: str) -> Target:
    """Syntax only: scheme, host, port; raises UrlRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are allowed")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in the URL are not allowed; sign with the secret instead")
    if parts.fragment:
        raise UrlRefused("the URL may not have a fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def refusal(address: IpAddress) -> str | None:
    """Why this address is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return name
    if not address.is_global:
        return "not globally routable"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"the host {host!r} does not resolve: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


class UrlGuard:
    def __init__(
        self, allowed: Sequence[IpNetwork] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allowed = tuple(allowed)
        self._resolve = resolver

    def check_address(self, text: str) -> IpAddress:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = refusal(address)
        if reason is not None and not any(address in network for network in self.allowed):
            raise UrlRefused(
                f"the URL resolves to {address}, a {reason} address; allow it with "
                "webhook_allowed_cidrs if this is intended",
                str(address),
            )
        return address

    def resolve(self, url: str) -> tuple[Target, list[IpAddress]]:
        """The target and its checked addresses; UrlRefused if any address is refused."""
        target = parse_url(url)
        try:
            literal: IpAddress | None = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        texts = [str(literal)] if literal is not None else self._resolve(target.host, target.port)
        if not texts:
            raise UrlRefused(f"the host {target.host!r} has no address")
        return target, [self.check_address(text) for text in texts]
