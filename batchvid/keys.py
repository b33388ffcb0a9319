"""API keys from the environment: trimmed, checked, and remembered as secrets (errors.secret) as they are read."""

from __future__ import annotations

import os
from collections.abc import Iterable

from .errors import MIN_SECRET, InputError, secret

#: where the API key is read from unless the manifest's gateway block names another variable (api_key_env)
DEFAULT_KEY_ENV = "BATCHVID_API_KEY"


def from_env(variable: str) -> str:
    """The key in `variable`, "" when it is unset or blank.

    A key pasted with its line break, or read from a file with one, is trimmed. Any other blank, control character or
    non-ASCII letter is refused here: aiohttp refuses it only as a request is made, once the shot is marked
    `submitting`, and every shot would come back uncertain. So is a key shorter than any gateway gives
    (errors.MIN_SECRET), which could not be kept out of what is written. The key itself is never shown.
    """
    key = os.environ.get(variable, "").strip()
    if key[:7].lower() == "bearer ":  # copied from a curl line: batchvid writes the header's word itself
        raise InputError(f"the API key in {variable} starts with 'Bearer ': set the key alone, without that word")
    if not all("!" <= character <= "~" for character in key):
        raise InputError(f"the API key in {variable} holds a blank, a control character or a non-ASCII letter, "
                         "which no API key has: set it again, copied as the gateway shows it")
    if key and len(key) < MIN_SECRET:  # it could be kept out of no message, nor told from a task id that holds it
        raise InputError(f"the API key in {variable} is {len(key)} character{'s' * (len(key) != 1)} long, shorter "
                         f"than any gateway's key ({MIN_SECRET} at least): set it again, copied whole as the gateway "
                         "shows it")
    return secret(key)


def remember(variables: Iterable[str]) -> None:
    """Remember the keys these variables hold as secrets, whether or not this run sends anything: the plan writes
    each shot's prompt to the journal, and a prompt may take a key in through `${VAR}`. Nothing is checked here:
    from_env() says what is wrong with a key the run needs."""
    for variable in variables:
        secret(os.environ.get(variable, "").strip())
