"""One error root, as in pre-commit: a FatalError is a user's problem, said in one line.

    FatalError            -> exit 1 (or .exit_code), one line on stderr, no traceback
    +-- InputError        -> exit 2: bad input or a refused budget, nothing was sent
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit


class FatalError(RuntimeError):
    exit_code = 1


class InputError(FatalError):
    exit_code = 2


#: how the gateway's refusal of the key or the account (401, 403) is said: the next step is then to check them
KEY_REFUSED = "the gateway refused the API key or the account"
#: how a host whose TLS certificate cannot be verified is said, to tell the way out from the retries
CERT_UNTRUSTED = "cannot verify the TLS certificate of"
#: the way out, for a network whose proxy re-signs HTTPS
TRUST_ADVICE = ("if a proxy or security software on this network re-signs HTTPS, point SSL_CERT_FILE at its CA "
                "certificate (a PEM file)")
#: how a gateway answering with a redirect is said: the next step is then to give the base URL it redirects to
REDIRECTED = "the gateway redirects from"

#: the credentials read in this process (API keys), left out of what is written for people
_SECRETS: set[str] = set()
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
#: no gateway gives a shorter key (theirs run to dozens of characters); a shorter value cannot be told apart from the
#: text around it: taken out of prompts and messages it would take words with it ("the"), and a task id holding it
#: by chance would be taken to hold the key, its shot left uncertain (keys.from_env refuses such a key)
MIN_SECRET = 8


def secret(value: str) -> str:
    """Remember a credential, so that nothing written for people (a crash report, a gateway's message kept in the
    ledger) can show it; returns it. A value shorter than MIN_SECRET is no key, and is not looked for."""
    if len(value) >= MIN_SECRET:
        _SECRETS.add(value)
    return value


def holds_secret(text: str) -> bool:
    """Whether `text` holds a remembered credential."""
    return any(value in text for value in _SECRETS)


def without_secrets(text: str) -> str:
    """`text` with every remembered credential, and any bearer token, replaced by ***."""
    return _BEARER.sub(r"\1***", without_keys(text))


def without_keys(text: str) -> str:
    """`text` with every remembered credential replaced by ***, and nothing else changed (a prompt may well say
    "the bearer of the flag")."""
    for value in _SECRETS:
        text = text.replace(value, "***")
    return text


def untrusted(where: str, certificate_error: BaseException) -> str:
    """'cannot verify the TLS certificate of WHERE (WHY)', WHY as OpenSSL words it ("self-signed certificate")."""
    why = getattr(certificate_error, "verify_message", None) or str(certificate_error)
    return f"{CERT_UNTRUSTED} {where} ({why})"


#: whitespace, C0/C1 controls (ESC starts a terminal escape) and the invisible marks that reorder or hide text
#: blanks, control characters, invisible marks, and half characters (a lone surrogate: JSON may escape one, \ud800,
#: which no file takes)
_UNSHOWABLE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]+")


def one_line(text: str, limit: int = 300) -> str:
    """A text from outside (a gateway's error message) made fit for one line of a terminal or the ledger.

    The gateway is not ours: its message may hold newlines that break the summary, an escape that rewrites the
    user's screen, a whole HTML page, or the key we sent, echoed back ("Incorrect API key provided: sk-...").
    """
    shown = _UNSHOWABLE.sub(" ", without_secrets(text)).strip()
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def is_text(value: str) -> bool:
    """Whether `value` can be written as UTF-8. Python keeps bytes of the environment or the command line that are no
    UTF-8 as lone surrogates, and JSON may escape one (\\ud800): no file, journal or URL takes them."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_HALVES = re.compile("[\ud800-\udfff]")


def whole(text: str) -> str:
    """`text` with each half character (see is_text) as U+FFFD, so that it can be written: the journal's last guard
    for a reason that quotes something from outside, a video URL or a path."""
    return text if is_text(text) else _HALVES.sub("\ufffd", text)


def redact(url: str) -> str:
    """A URL fit for logs and files: signed query strings and user names are credentials, and data: URIs are huge."""
    if url.startswith("data:"):
        return url[:30] + "..."
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" + ("?..." if parts.query else "")
