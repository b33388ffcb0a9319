"""Which proxy a request goes through: the environment's, read as curl and pip read it.

`HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` (lower case first, then upper) name the proxy for each URL scheme;
`NO_PROXY` lists the hosts that go direct (`*` for all; `example.com` also covers its subdomains; an address or a
range like `10.0.0.0/8` covers the IP addresses in it). Loopback addresses always go direct: the simulator, or a
gateway on this machine, is never sent to a proxy.

aiohttp's own `trust_env` is not used: it looks the proxy up in a worker thread on every request, and reads
~/.netrc too, whose credentials would clash with the gateway's Authorization header. The environment is read
once, when the run starts.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import InputError

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class Proxies:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        #: scheme -> (proxy URL, the variable that named it)
        self._by_scheme: dict[str, tuple[str, str]] = {}
        for scheme in ("http", "https"):
            for variable in (f"{scheme}_proxy", "all_proxy"):
                url = _proxy_url(env, variable)
                if url is not None:
                    self._by_scheme[scheme] = (url, variable.upper())
                    break
        self._direct: list[str] = []  # host names (and their subdomains) that go direct; "" for all
        self._direct_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []  # 10.0.0.0/8, ::1, ...
        for word in _read(env, "no_proxy").split(","):
            entry = word.strip().lstrip("*").lstrip(".").lower()
            if word.strip() == "*":
                self._direct.append("")
            elif entry:
                network = _network(entry)
                if network is not None:
                    self._direct_networks.append(network)
                else:  # a name, perhaps with a port: "host:port" -> host
                    self._direct.append(entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry)
        self._chosen: dict[tuple[str, str], tuple[str, str] | None] = {}

    def for_url(self, url: str) -> str | None:
        """The proxy URL for a request to `url`, or None to connect directly. InputError for a proxy that cannot
        be used (said only when some request would go through it: `--simulate` never does)."""
        if not self._by_scheme:  # no proxy in the environment: the usual case, decided without parsing the URL
            return None
        parts = urlsplit(url)
        key = (parts.scheme.lower(), (parts.hostname or "").lower())
        if key not in self._chosen:
            scheme, host = key
            self._chosen[key] = None if self._goes_direct(host) else self._by_scheme.get(scheme)
        chosen = self._chosen[key]
        if chosen is None:
            return None
        proxy, variable = chosen
        unset = f"unset it for batchvid (env -u {variable} -u {variable.lower()} batchvid ...)"
        if urlsplit(proxy).scheme.lower() not in ("http", "https"):  # aiohttp would talk HTTP to a SOCKS proxy
            raise InputError(f"{variable} names the proxy {shown(proxy)}: only http:// and https:// proxies can "
                             f"be used; {unset}")
        if not _well_formed(proxy):
            raise InputError(f"{variable} names the proxy {shown(proxy)}, which is not a proxy URL "
                             f"(http://host:port); fix it or {unset}")
        return proxy

    def _goes_direct(self, host: str) -> bool:
        if is_local(host):
            return True
        if self._direct_networks:
            address = _address(host)
            if address is not None and any(address in network for network in self._direct_networks):
                return True
        # "" is what "*" becomes: every host
        return any(name == "" or name == host or host.endswith("." + name) for name in self._direct)


def is_local(host: str) -> bool:
    """This machine: a loopback address or name."""
    return host.lower() in _LOOPBACK_NAMES or _is_loopback(host)


def shown(proxy: str) -> str:
    """A proxy URL fit for messages: its credentials left out."""
    parts = urlsplit(proxy)
    host = parts.hostname or "?"
    port = re.search(r":([^:\]]*)$", parts.netloc.rpartition("@")[2])  # not .port: it raises on a port like "x"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port.group(1)}" if port and port.group(1) else "")


def _read(env: Mapping[str, str], name: str) -> str:
    return env.get(name.lower()) or env.get(name.upper()) or ""


def _proxy_url(env: Mapping[str, str], name: str) -> str | None:
    value = _read(env, name).strip()
    if not value:
        return None
    return value if "://" in value else f"http://{value}"  # "proxy:3128", as curl takes it


def _well_formed(proxy: str) -> bool:
    try:
        return bool(urlsplit(proxy).hostname) and urlsplit(proxy).port != 0
    except ValueError:  # a port that is not a number
        return False


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A NO_PROXY entry that is an address or a range (10.0.0.0/8, as curl takes it), with or without a port."""
    if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
        entry = entry.rsplit(":", 1)[0]  # "10.1.2.3:8080", "[fd00::1]:443"
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _address(host)
    return address is not None and address.is_loopback
