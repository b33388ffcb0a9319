"""One error root, as in pre-commit: a FatalError is a user's problem, said in one line.

    FatalError            -> exit 1 (or .exit_code), one line on stderr, no traceback
    +-- InputError        -> exit 2: bad input or a refused budget, nothing was sent
"""

from __future__ import annotations


class FatalError(RuntimeError):
    exit_code = 1


class InputError(FatalError):
    exit_code = 2
