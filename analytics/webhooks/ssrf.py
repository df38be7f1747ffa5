"""The guard against server-side request forgery: which webhook URLs and addresses may be called.

Only ``http`` and ``https`` URLs with a host and no user info. Every address the host resolves
to must be public: loopback, private (RFC 1918, unique-local), link-local (169.254/16, the cloud
metadata address among them), shared (100.64/10), multicast, unspecified, site-local
(fec0::/10), 6to4 relay anycast (192.88.99/24) and reserved addresses are refused unless they
fall in a network of ``webhook_allowed_cidrs``. An IPv6 address that carries an IPv4 one is
judged by that one too: IPv4-mapped (::ffff:0:0/96) and -compatible (::/96), 6to4 (2002::/16),
Teredo (2001::/32: server and client) and NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48,
which is refused whatever it carries). A NAT64 address of the well-known prefix carrying a public
IPv4 address passes: that is how an IPv6-only cluster (DNS64) reaches every public host. The check runs when a
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


_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# Not public, though Python's ipaddress calls them global (as of 3.11).
_NOT_PUBLIC: tuple[tuple[IpNetwork, str], ...] = (
    (ipaddress.IPv4Network("192.88.99.0/24"), "6to4 relay anycast"),
    (ipaddress.IPv6Network("fec0::/10"), "site-local"),
    (_NAT64_LOCAL_USE, "local-use NAT64"),
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the form that carries it."""
    last_32_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_MAPPED:
        return [("IPv4-mapped", last_32_bits)]
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1
        return [("IPv4-compatible", last_32_bits)]
    if address.sixtofour is not None:
        return [("6to4", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    if address in _NAT64_WELL_KNOWN or address in _NAT64_LOCAL_USE:
        return [("NAT64", last_32_bits)]
    return []


def refusal(address: IpAddress) -> str | None:
    """Why this address may not be called (``"a loopback address"``), or None when it is public.

    An IPv6 address carrying a refused IPv4 one is refused for it (``"a loopback address
    (127.0.0.1 as 6to4)"``).
    """
    if isinstance(address, ipaddress.IPv6Address):
        for form, ipv4 in embedded_ipv4(address):
            reason = refusal(ipv4)
            if reason is not None:
                return f"{reason} ({ipv4} as {form})"
        if address in _IPV4_MAPPED or address in _NAT64_WELL_KNOWN:
            return None  # the IPv4 address it carries is public; the IPv6 form is only transport
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        *((name, address in network) for network, name in _NOT_PUBLIC),
        ("reserved", address.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"a {name} address"
    if not address.is_global:
        return "a not globally routable address"
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
                f"the URL resolves to {address}, {reason}; allow it with "
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
