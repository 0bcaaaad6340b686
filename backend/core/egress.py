"""Outbound HTTP to addresses that tenants choose (webhooks): the public internet only.

A tenant who could point a webhook at ``127.0.0.1``, ``169.254.169.254`` or a private address
would make the server post signed alarm JSON to the server's own admin ports, the cloud
metadata service or the plant network (server-side request forgery). The guard follows what
hardened egress proxies do (Stripe's Smokescreen, GitLab's outbound filter):

- every address a host resolves to must be public: loopback, link-local, private, shared
  (CGNAT), multicast, reserved, unspecified and otherwise non-global ranges are refused, IPv4
  and IPv6 alike, and an IPv4 address carried inside IPv6 (``::ffff:127.0.0.1``, 6to4,
  Teredo, NAT64) is judged as the IPv4 address it reaches;
- the connection goes to the very address that was checked: the transport resolves once,
  checks, and connects to that IP with the URL's host kept in ``Host`` and in the TLS SNI
  (and certificate check), so a DNS answer that changes between check and connect (DNS
  rebinding) cannot move the request;
- connections are not reused (one per request, opened to the address just checked), proxies
  from the environment are not used (a proxy would resolve the name itself), and redirects
  are not followed (the client is built with ``follow_redirects=False``);
- the platform administrator may allow networks explicitly
  (``ANJIAN_WEBHOOK_ALLOW_NETWORKS``, CIDRs), e.g. a receiver on the plant's own network.

A refusal is ``EgressRefused``: permanent, so a delivery that hits it is recorded as failed
rather than retried.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[IPAddress]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the low 32 bits
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215, local use
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-Fx.]+$")
# RFC 6761 §6.3: these names are loopback whatever a resolver answers.
_LOOPBACK_NAMES = re.compile(r"^(localhost|.*\.localhost)\.?$", re.IGNORECASE)


class EgressRefused(Exception):
    """The target is not on the public internet and no allowed network covers it."""


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address: where the tunnel ends
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _why_not_public(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified 未指定地址"
    if ip.is_loopback:
        return "loopback 回环地址"
    if ip.is_link_local:
        return "link-local 链路本地地址"
    if ip.is_multicast:
        return "multicast 组播地址"
    if ip.is_private:
        return "private 内网地址"
    if ip.is_reserved:
        return "reserved 保留地址"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _LOCAL_NAT64:
        return "local NAT64 本地转换地址"
    if not ip.is_global:
        return "not globally routable 非公网地址"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Public addresses, plus the networks the platform administrator allows."""

    allow: tuple[Network, ...] = ()

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be reached, or None when it may."""
        inner = embedded_ipv4(ip)
        if self._allowed(ip) or (inner is not None and self._allowed(inner)):
            return None
        reason = _why_not_public(ip)
        if reason is None and inner is not None:
            reason = _why_not_public(inner)
        if reason is None:
            return None
        return (
            f"目标地址 {ip} 不是公网地址（{reason}），平台未允许该网络 / the target address "
            f"{ip} is not on the public internet ({reason.split(' ', 1)[0]}) and no network "
            "allowed by the platform administrator (ANJIAN_WEBHOOK_ALLOW_NETWORKS) covers it"
        )

    def check(self, ip: IPAddress) -> None:
        reason = self.refusal(ip)
        if reason is not None:
            raise EgressRefused(reason)


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names without DNS: dotted, bracketed IPv6, or the numeric
    shorthands resolvers also accept (``0x7f000001``, ``127.1``, ``2130706433``)."""
    value = host.strip().strip("[]").split("%", 1)[0]  # an IPv6 zone id picks an interface
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(value):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(value))
        except OSError:
            return None
    return None


def check_url_host(host: str, policy: EgressPolicy) -> None:
    """What can be judged before any DNS: a literal address, or a loopback name."""
    ip = literal_address(host)
    if ip is None and _LOOPBACK_NAMES.match(host):
        ip = ipaddress.IPv4Address("127.0.0.1")
    if ip is not None:
        policy.check(ip)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for TCP, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]), None)
    return list(seen)


_DEFAULT_PORTS = {"http": 80, "https": 443}


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that connects only where the policy permits, to the checked IP."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        verify: bool | str = True,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        # No keep-alive: a pooled connection opened for one host's checked address must not
        # carry another host's request (the pool keys connections by IP once pinned).
        self._inner = httpx.HTTPTransport(
            verify=verify, limits=httpx.Limits(max_keepalive_connections=0), retries=0
        )

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses to try, in order; refuses if any of them is not permitted
        (a name that also points inside cannot be made to pass by ordering its answers)."""
        literal = literal_address(host)
        if literal is not None:
            found: Iterable[IPAddress] = [literal]
        else:
            resolver = self._resolver or resolve
            try:
                found = resolver(host, port)
            except OSError as exc:  # includes socket.gaierror: transient, so retried
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
        checked = list(found)
        if not checked:
            raise httpx.ConnectError(f"{host} resolves to no address")
        for ip in checked:
            self.policy.check(ip)
        return checked

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise EgressRefused(f"only http and https are allowed, not {url.scheme}")
        host = url.host
        port = url.port or _DEFAULT_PORTS[url.scheme]
        last: httpx.ConnectError | None = None
        for ip in self.addresses(host, port):
            extensions = dict(request.extensions)
            if url.scheme == "https" and literal_address(host) is None:
                # TLS names and verifies the host, not the IP the connection is pinned to.
                extensions["sni_hostname"] = host
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=str(ip)),
                headers=request.headers,  # keeps Host: the name the receiver expects
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return self._inner.handle_request(pinned)
            except httpx.ConnectError as exc:
                last = exc  # the next checked address, as a resolver's list is meant to be
        assert last is not None
        raise last

    def close(self) -> None:
        self._inner.close()


def guarded_client(
    policy: EgressPolicy, *, timeout: float = 10.0, resolver: Resolver | None = None
) -> httpx.Client:
    """A client for tenant-chosen URLs: guarded transport, no redirects, no env proxies."""
    return httpx.Client(
        transport=GuardedTransport(policy, resolver=resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
