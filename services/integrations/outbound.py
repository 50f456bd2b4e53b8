"""The one home for outbound HTTP: the SSRF guard (save time and send time) and the one client setup.

Rules live in core.outbound; here they meet DNS and sockets. A URL is checked when it is saved
(`check_url`) and again whenever a connection is opened: the HTTP client resolves the host itself, checks
every address, and connects to the checked address (TLS still verifies the host name). Nothing resolves the
name a second time, so a DNS answer that changes between check and connect (rebinding) cannot slip through.
The client follows no redirects by itself; `post` follows 307/308 only when asked, each hop through the
same guarded connection. Environment proxies and .netrc are ignored (`trust_env = False`).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.util import connection as urllib3_connection

from core.outbound import (
    AllowList,
    IPAddress,
    Refused,
    Target,
    check_resolved,
    parse_allow_list,
    parse_ip,
    parse_target,
)
from settings import get_settings

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_REDIRECTS = 3
USER_AGENT = "Leadvane/1.0"

__all__ = [
    "Refused", "check_url", "checked_addresses", "describe_error", "new_session", "post", "request", "resolve_host",
]


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host`. Tests replace this function to play DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None and ip not in seen:
            seen.append(ip)
    return seen


@lru_cache(maxsize=8)
def _allow_list(text: str) -> AllowList:
    return parse_allow_list(text)


def allow_list() -> AllowList:
    return _allow_list(get_settings().outbound_allow)


def checked_addresses(target: Target) -> list[IPAddress]:
    """Resolve the target's host and check every address; raises Refused. A literal IP is not resolved."""
    if target.literal is not None:
        addresses = [target.literal]
    else:
        try:
            addresses = resolve_host(target.host, target.port)
        except (OSError, UnicodeError):
            raise Refused("host does not resolve") from None
    check_resolved(target, addresses, allow_list())
    return addresses


def check_url(url: str) -> Target:
    """The save-time check: parse, resolve and check; raises Refused with a short reason."""
    target = parse_target(url)
    checked_addresses(target)
    return target


# --- the guarded HTTP client ---------------------------------------------------------------------------------------


class _GuardedConnectionMixin:
    """Opens the socket to an address the guard checked, never to whatever the name resolves to later."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        scheme = "https" if isinstance(self, HTTPSConnection) else "http"
        target = parse_target(f"{scheme}://{_netloc(self.host, self.port)}/")
        errors: list[OSError] = []
        for ip in checked_addresses(target):
            try:
                return urllib3_connection.create_connection(
                    (str(ip), self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                errors.append(exc)
        raise NewConnectionError(self, f"Failed to establish a new connection: {errors[-1] if errors else 'none'}")  # type: ignore[arg-type]


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _HTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        raise Refused("proxies are not used for outbound requests")


def new_session() -> requests.Session:
    """The one HTTP client setup for outbound requests: guarded connections, no env proxies. Use `post`, which
    never lets requests follow redirects on its own."""
    session = requests.Session()
    session.trust_env = False
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def post(
    session: requests.Session, url: str, *, data: bytes, headers: Mapping[str, str], follow_redirects: bool = False,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
) -> requests.Response:
    """POST through the guard. With follow_redirects, 307/308 are followed (same method and body) up to
    MAX_REDIRECTS hops, each checked again; other redirects are returned as they are. The response body is
    not read (stream=True): callers look at the status, or read a bounded amount themselves."""
    for _hop in range(MAX_REDIRECTS + 1):
        parse_target(url)  # credentials, scheme: the connection checks the address
        response = session.post(url, data=data, headers=dict(headers), timeout=timeout,
                                allow_redirects=False, stream=True)
        location = response.headers.get("location")
        if not (follow_redirects and response.status_code in (307, 308) and location):
            return response
        response.close()
        url = requests.compat.urljoin(url, location)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def request(
    session: requests.Session, method: str, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Any method through the guard (an API call: GET, PATCH, POST with a JSON body), redirects never followed
    (a redirect is answered as it is). Like `post`, the body is not read: see `read_limited`."""
    parse_target(url)  # credentials, scheme: the connection checks the address
    return session.request(method, url, json=json, headers=dict(headers or {}),
                           timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), allow_redirects=False, stream=True)


MAX_RETRY_AFTER = 3600.0  # a receiver may ask us to wait, but not for more than an hour per attempt


def retry_after_seconds(value: object, default: float) -> float:
    """A receiver's Retry-After (seconds) as a wait we honour: `default` when missing or unreadable, never below 0
    nor above MAX_RETRY_AFTER (a huge value must not push a delivery out of reach, or overflow a timestamp)."""
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(str(value)) if value is not None else default
    except ValueError:
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if seconds == seconds else default


def read_limited(response: requests.Response, limit: int = 64 * 1024) -> bytes:
    """At most `limit` bytes of the body: a receiver cannot make us download a large answer."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(8192):
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    finally:
        response.close()
    return b"".join(chunks)[:limit]


def describe_error(exc: BaseException) -> str:
    """A short reason of ours for a failed request; never text from the receiver."""
    refused = _find(exc, Refused)
    if refused is not None:
        return str(refused)
    if isinstance(exc, requests.Timeout) or _find(exc, TimeoutError) is not None:
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if _find(exc, ConnectionRefusedError) is not None or "Connection refused" in str(exc):
        return "connection refused"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    if isinstance(exc, requests.RequestException):
        return "request failed"
    return f"send failed ({type(exc).__name__})"


def _find(exc: BaseException | None, kind: type[BaseException]) -> Any:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        if exc.args and isinstance(exc.args[0], BaseException) and isinstance(exc.args[0], kind):
            return exc.args[0]
        exc = exc.__cause__ or exc.__context__ or (
            getattr(exc, "reason", None) if isinstance(getattr(exc, "reason", None), BaseException) else None
        )
        seen += 1
    return None
