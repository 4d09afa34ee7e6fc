"""Who may talk to the editor: the per-run token, the Host header and the Origin header.

The page drives scripts that spend the user's budget, so a page from another site must not be
able to reach it: DNS rebinding is stopped by the Host check, cross-site WebSockets by the
Origin check, and anything that slips past both by the token only the printed URL carries.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
HTTP_PORT = 80


def new_token() -> str:
    """A fresh per-run secret, URL-safe so it can sit in ``?token=``."""
    return secrets.token_urlsafe(24)


@dataclass
class AccessPolicy:
    """The checks for one running server. ``port`` is filled in once the socket is bound
    (``--port 0`` picks a free one)."""

    token: str
    bound_host: str
    port: int = 0
    extra_hosts: tuple[str, ...] = field(default_factory=tuple)

    def allowed_hosts(self) -> set[str]:
        names = {self.bound_host, *LOOPBACK_NAMES, *self.extra_hosts}
        if ":" in self.bound_host and not self.bound_host.startswith("["):
            names.add(f"[{self.bound_host}]")  # an IPv6 literal appears bracketed in Host
        hosts = {f"{name}:{self.port}" for name in names}
        if self.port == HTTP_PORT:
            hosts |= names  # a browser leaves the default port out of Host and Origin
        return hosts

    def host_ok(self, host_header: str | None) -> bool:
        """The Host header must name this server (bound address or localhost) and port.
        Bound to every interface (``--host 0.0.0.0``), any IP address of this machine is
        also fine: DNS rebinding needs a domain name, and a LAN browser names an address."""
        if host_header is None:
            return False
        host = host_header.lower()
        return host in self.allowed_hosts() or (
            self.bound_host in WILDCARD_HOSTS and self._ip_literal_with_port(host)
        )

    def origin_ok(self, origin: str | None, host_header: str | None = None) -> bool:
        """A request without Origin is a same-origin navigation or a non-browser client;
        with one, it must be this server's own origin: a name it is bound to, or (bound to
        every interface) the very address the request was sent to."""
        if origin is None:
            return True
        origin = origin.lower()
        if origin in {f"http://{host}" for host in self.allowed_hosts()}:
            return True
        return (
            host_header is not None
            and origin == f"http://{host_header.lower()}"
            and self.host_ok(host_header)
        )

    def _ip_literal_with_port(self, host: str) -> bool:
        name, port = _split_port(host)
        if port != self.port:
            return False
        try:
            ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
        except ValueError:
            return False
        return name.startswith("[") == (":" in name)  # IPv6 bracketed, IPv4 not

    def token_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def refusal(
        self, *, host: str | None, origin: str | None, token: str | None, needs_token: bool
    ) -> str | None:
        """Why a request is refused (a short reason for the 403 body), or None when allowed."""
        if not self.host_ok(host):
            return f"Host {host!r} is not this server"
        if not self.origin_ok(origin, host):
            return f"Origin {origin!r} is not this server"
        if needs_token and not self.token_ok(token):
            return "missing or wrong token: open the URL that nai-script serve printed"
        return None

    def url(self, host: str | None = None) -> str:
        shown = host or self.bound_host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/?token={self.token}"


def _split_port(host: str) -> tuple[str, int | None]:
    """``name:port`` -> (name, port); an absent port is HTTP's default, a bad one None."""
    name, colon, port = host.rpartition(":")
    if not colon or name.endswith(":") or (name.startswith("[") and not name.endswith("]")):
        return host, HTTP_PORT  # no port (a bare IPv6 literal's colons are not one)
    return (name, int(port)) if port.isdigit() else (host, None)
