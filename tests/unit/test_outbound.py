"""The outbound-URL rules on plain data: every refused address class, odd spellings, credentials, allow-list."""

import ipaddress

import pytest
from pydantic import ValidationError

from core.outbound import (
    AllowList,
    Refused,
    address_class,
    check_resolved,
    parse_allow_list,
    parse_ip,
    parse_target,
)
from settings import Settings

NOBODY = AllowList()


def _refusal(url: str, allow: AllowList = NOBODY) -> str:
    target = parse_target(url)
    assert target.literal is not None, "these cases are literal addresses"
    with pytest.raises(Refused) as caught:
        check_resolved(target, [target.literal], allow)
    return caught.value.reason


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1/", "loopback address"),
    ("http://127.8.9.10:8080/x", "loopback address"),
    ("http://[::1]/", "loopback address"),
    ("http://10.0.0.5/", "private address"),
    ("http://172.16.3.4/", "private address"),
    ("http://172.31.255.255/", "private address"),
    ("http://192.168.1.1/", "private address"),
    ("http://[fd12:3456::1]/", "private address"),
    ("http://[fc00::1]/", "private address"),
    ("http://169.254.169.254/latest/meta-data/", "link-local address"),
    ("http://[fe80::1]/", "link-local address"),
    ("http://224.0.0.1/", "multicast address"),
    ("http://[ff02::1]/", "multicast address"),
    ("http://240.0.0.1/", "reserved address"),
    ("http://255.255.255.255/", "reserved address"),
    ("http://192.0.2.10/", "reserved address"),  # documentation range: not global
    ("http://0.0.0.0/", "unspecified address"),
    ("http://0.1.2.3/", "unspecified address"),
    ("http://[::]/", "unspecified address"),
    ("http://100.64.0.1/", "shared (CGNAT) address"),
])
def test_each_address_class_is_refused(url: str, reason: str) -> None:
    assert _refusal(url) == reason


@pytest.mark.parametrize("host", [
    "2130706433",          # one decimal number
    "0x7f.1",              # hex, two parts
    "0x7f000001",          # one hex number
    "017700000001",        # one octal number
    "0177.0.0.01",         # octal parts
    "127.1",               # two parts
    "127.0.1",             # three parts
    "127.0.0.1.",          # trailing dot
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",     # the same, in hex
    "[::127.0.0.1]",       # IPv4-compatible IPv6
    "[64:ff9b::7f00:1]",   # NAT64
    "[2002:7f00:1::]",     # 6to4
])
def test_odd_spellings_of_loopback_are_loopback(host: str) -> None:
    assert parse_ip(host.strip("[]")) is not None
    assert _refusal(f"http://{host}:8080/hook") == "loopback address"


def test_odd_spellings_of_private_and_metadata_addresses() -> None:
    assert _refusal("http://0xa9.0xfe.0xa9.0xfe/") == "link-local address"  # 169.254.169.254
    assert _refusal("http://2852039166/") == "link-local address"
    assert _refusal("http://012.0.0.1/") == "private address"  # octal 10.0.0.1
    assert _refusal("http://[::ffff:192.168.0.1]/") == "private address"


def test_public_addresses_and_names_are_not_literals_or_refused() -> None:
    for text in ("8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"):
        ip = parse_ip(text)
        assert ip is not None and address_class(ip) is None
    for name in ("example.com", "1.2.3.4.5", "0x100000000", "256.1.1.1", "hooks.0x7f.example", "12ab"):
        assert parse_ip(name) is None, name


def test_a_name_is_refused_by_what_it_resolves_to() -> None:
    target = parse_target("https://hooks.example.com/x")
    assert target.literal is None and target.port == 443
    with pytest.raises(Refused) as caught:
        check_resolved(target, [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")], NOBODY)
    assert caught.value.reason == "resolves to a private address"  # any bad address refuses the whole name
    with pytest.raises(Refused, match="does not resolve"):
        check_resolved(target, [], NOBODY)
    check_resolved(target, [ipaddress.ip_address("93.184.216.34")], NOBODY)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://user:secret@example.com/hook", "credentials in the URL"),
    ("https://token@example.com/hook", "credentials in the URL"),
    ("http://:@example.com/", "credentials in the URL"),
    ("ftp://example.com/", "must be an http(s) URL"),
    ("file:///etc/passwd", "must be an http(s) URL"),
    ("gopher://127.0.0.1:6379/_", "must be an http(s) URL"),
    ("http:///path-only", "URL has no host"),
    ("http://example.com:99999/", "not a valid URL"),
    ("http://exa mple.com/", "URL contains spaces, control characters or backslashes"),
    ("http://evil.com\\@127.0.0.1/", "URL contains spaces, control characters or backslashes"),
    ("", "empty URL"),
])
def test_malformed_urls_and_credentials_are_refused(url: str, reason: str) -> None:
    with pytest.raises(Refused) as caught:
        parse_target(url)
    assert caught.value.reason == reason and str(caught.value) == f"refused: {reason}"


def test_the_allow_list_lets_networks_and_hosts_through() -> None:
    allow = parse_allow_list(" 10.1.0.0/16, 127.0.0.1/32,::1/128 , hooks.intranet, .corp.example ,")
    assert _refusal("http://10.2.0.1/", allow) == "private address"
    for url in ("http://10.1.200.3/", "http://127.0.0.1:9/", "http://[::1]/", "http://2130706433/",
                "http://[::ffff:127.0.0.1]/"):
        target = parse_target(url)
        check_resolved(target, [target.literal], allow)  # type: ignore[list-item]
    assert _refusal("http://127.0.0.2/", allow) == "loopback address"  # /32 means exactly one address
    for host in ("hooks.intranet", "HOOKS.intranet.", "crm.corp.example"):
        check_resolved(parse_target(f"http://{host}/"), [ipaddress.ip_address("10.9.9.9")], allow)
    with pytest.raises(Refused):
        check_resolved(parse_target("http://corp.example.evil.com/"), [ipaddress.ip_address("10.9.9.9")], allow)
    with pytest.raises(Refused, match="credentials"):
        parse_target("http://a:b@hooks.intranet/")  # credentials stay refused for allowed hosts


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'http://x/'"):
        parse_allow_list("10.0.0.0/8, http://x/")
    assert parse_allow_list("") == AllowList()


def test_a_bad_allow_list_setting_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="'http://bad/' is neither a host name nor a network"):
        Settings(outbound_allow="10.0.0.0/8, http://bad/")
    assert Settings(outbound_allow="10.0.0.0/8, hooks.intranet").outbound_allow == "10.0.0.0/8, hooks.intranet"
