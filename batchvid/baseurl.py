"""A gateway's base URL: the default, and what keeps a value from being one, for the manifest's gateway block and
for --base-url alike. Apart from the manifest package, which imports YAML: a settled batch's answer checks a
--base-url without it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .errors import is_text
from .keys import DEFAULT_KEY_ENV

DEFAULT_BASE_URL = "https://llm.ai-nebula.com"
_BASE_URL = re.compile(r"https?://[^/\s?#]+(/\S*)?", re.IGNORECASE)


def base_url_problem(value: object) -> str | None:
    """What keeps `value` from being a gateway's base URL (None: nothing): an http(s) URL with a host, nothing blank
    in it, and no user name or password, which aiohttp would send beside the API key's header and refuse to."""
    if isinstance(value, str) and not is_text(value):
        return "holds bytes that are not UTF-8 text"
    if not isinstance(value, str) or _BASE_URL.fullmatch(value) is None:
        return f"must be an http(s) URL like https://gateway.example, not {value!r}"
    if "@" in urlsplit(value).netloc:  # not shown: the password would be on the screen
        return (f"must not hold a user name or password: the API key goes in the environment ({DEFAULT_KEY_ENV}, or "
                "the variable api_key_env names)")
    return None
