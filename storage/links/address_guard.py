"""The address guard: which URLs and which IP addresses we are willing to connect to.

Every URL a member shares, every redirect hop and every address a host name resolves to
passes through :class:`AddressGuard`. Only ``http`` and ``https`` are accepted, and an
address is refused when it is loopback, private, link-local, multicast, reserved,
unspecified or otherwise not globally routable -- in IPv4, IPv6, IPv4-mapped IPv6, NAT64
and the legacy decimal / hex / octal IPv4 notations (``http://2130706433/``,
``http://0x7f000001/``, ``http://0177.1/``) -- unless the operator allowed the host name
(``allow_hosts``) or the address range (``allow_ranges``).

The guard is used twice for each connection: once on the URL before a request is made
(so literal addresses and bad schemes are refused before a byte is sent) and once inside
the HTTP client's resolver (so the address actually connected to is the one checked,
which leaves no DNS-rebinding window).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from core.errors import FetchError, UnsafeUrlError

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolve ``(host, port)`` to a list of IP address strings."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")


class LinkPolicy(Protocol):
    """What the link fetcher needs from the operator's ``[links]`` settings.

    ``config.settings.LinkSettings`` satisfies this structurally; ``storage`` may not
    import ``config`` (see the import-linter contracts), hence the Protocol.
    """

    @property
    def allow_hosts(self) -> tuple[str, ...]: ...

    @property
    def allow_ranges(self) -> tuple[str, ...]: ...

    @property
    def connect_timeout_s(self) -> float: ...

    @property
    def read_timeout_s(self) -> float: ...

    @property
    def max_redirects(self) -> int: ...


@dataclass(frozen=True)
class ParsedUrl:
    """A URL that passed the scheme and syntax checks, normalised."""

    url: str  # normalised: lower-case scheme and host, no fragment
    scheme: str
    host: str  # lower-case, IDNA-encoded, brackets stripped for IPv6
    port: int


async def default_resolver(host: str, port: int) -> list[str]:
    """Resolve with the event loop's ``getaddrinfo`` (TCP only), unique addresses in order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"Could not find the site {host!r} (the name does not resolve).") from exc
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


def literal_address(host: str) -> IpAddress | None:
    """The IP address a host string denotes literally, or None for a real host name.

    Accepts the standard forms and the legacy IPv4 notations ``inet_aton`` accepts
    (decimal ``2130706433``, hex ``0x7f000001``, octal ``0177.0.0.1``, short ``127.1``),
    because resolvers and HTTP libraries accept them too.
    """
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    parts = candidate.split(".")
    if candidate and all(_NUMERIC_PART.match(part) for part in parts if part) and parts[0]:
        try:
            packed = socket.inet_aton(candidate.rstrip("."))
        except OSError:
            raise UnsafeUrlError(f"The link's address {host!r} is not a valid IP address.") from None
        return ipaddress.IPv4Address(packed)
    return None


def embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-compatible, NAT64, 6to4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if int(address) >> 32 == 0 and int(address) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(address))
    return None


def blocked_reason(address: IpAddress) -> str | None:
    """Why an address is not publicly routable, or None when it is fine to connect to."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = blocked_reason(inner)
        if reason is not None:
            return reason
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a non-public address"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


def _normalise_host(raw: str) -> str:
    host = raw.strip().lower().rstrip(".")
    if not host:
        raise UnsafeUrlError("The link has no host name.")
    if ":" in host:  # IPv6 literal (brackets already stripped by urlsplit)
        return host
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeUrlError(f"The link's host name {raw!r} is not valid.") from None
    if not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise UnsafeUrlError(f"The link's host name {raw!r} is not valid.")
    return host


def parse_url(url: str) -> ParsedUrl:
    """Check the scheme and syntax of a URL and normalise it; UnsafeUrlError when refused."""
    text = url.strip()
    if any(ch in text for ch in "\r\n\t\x00 "):
        raise UnsafeUrlError("The link contains spaces or control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise UnsafeUrlError("The link is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = scheme or "no scheme"
        raise UnsafeUrlError(f"Only http and https links can be fetched (this one uses {shown}).")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("Links with a user name or password in them are not accepted.")
    if hostname is None:
        raise UnsafeUrlError("The link has no host name.")
    host = _normalise_host(hostname)
    if port is None:
        port = 443 if scheme == "https" else 80
    if not 0 < port < 65536:
        raise UnsafeUrlError("The link's port is not valid.")
    netloc = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    if port != default_port:
        netloc = f"{netloc}:{port}"
    normalised = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return ParsedUrl(url=normalised, scheme=scheme, host=host, port=port)


class AddressGuard:
    """Decides which URLs and addresses may be connected to, with the operator's exceptions.

    ``resolver`` replaces DNS (tests, custom resolvers); ``host_map`` pins host names to
    fixed addresses (``{"suno.com": "127.0.0.1"}``) before the resolver is asked. Mapped
    addresses are still checked against the policy.
    """

    def __init__(
        self,
        policy: LinkPolicy,
        resolver: Resolver | None = None,
        host_map: Mapping[str, str] | None = None,
    ) -> None:
        self._allow_hosts = frozenset(_normalise_host(h) for h in policy.allow_hosts)
        self._allow_ranges = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in policy.allow_ranges)
        self._resolver: Resolver = resolver or default_resolver
        self._host_map = {_normalise_host(k): v for k, v in (host_map or {}).items()}

    def host_allowed(self, host: str) -> bool:
        """Whether the operator allowed this host name whatever it resolves to."""
        return host in self._allow_hosts

    def address_allowed(self, address: IpAddress) -> bool:
        """Whether an address is in one of the operator's allowed ranges."""
        candidates: list[IpAddress] = [address]
        inner = embedded_ipv4(address)
        if inner is not None:
            candidates.append(inner)
        return any(c.version == net.version and c in net for c in candidates for net in self._allow_ranges)

    def check_address(self, host: str, address: IpAddress) -> None:
        """Raise UnsafeUrlError when ``host`` may not be reached at ``address``."""
        if self.host_allowed(host) or self.address_allowed(address):
            return
        reason = blocked_reason(address)
        if reason is not None:
            raise UnsafeUrlError(
                f"Refused to fetch the link: {host} points to {reason} ({address}), "
                "which this instance does not connect to."
            )

    async def resolve_allowed(self, host: str, port: int) -> list[str]:
        """Resolve a host and keep only addresses we may connect to; UnsafeUrlError if none."""
        host = _normalise_host(host.strip("[]"))
        literal = literal_address(host)
        if literal is not None:
            self.check_address(host, literal)
            return [str(literal)]
        mapped = self._host_map.get(host)
        addresses = [mapped] if mapped is not None else await self._resolver(host, port)
        if not addresses:
            raise FetchError(f"Could not find the site {host!r} (the name does not resolve).")
        allowed: list[str] = []
        first_error: UnsafeUrlError | None = None
        for text in addresses:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                continue
            try:
                self.check_address(host, address)
            except UnsafeUrlError as exc:
                first_error = first_error or exc
                continue
            allowed.append(str(address))
        if not allowed:
            raise first_error or UnsafeUrlError(f"Refused to fetch the link: {host} has no usable address.")
        return allowed

    async def check_url(self, url: str) -> ParsedUrl:
        """Check a URL's scheme, syntax and addresses; the normalised URL when allowed."""
        parsed = parse_url(url)
        await self.resolve_allowed(parsed.host, parsed.port)
        return parsed
