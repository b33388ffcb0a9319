"""The question before a run spends money. Typed in a terminal, a run that would send shots to a real gateway shows
its plan and asks first, as `terraform apply` does: a manifest pointed at the wrong folder, or a matrix that
expanded further than meant, is seen before it is paid for. A script or CI (input not a terminal), a rehearsal
(--simulate: free) and --yes are not asked; a run in the background of its terminal, which cannot be, is refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from .errors import InputError

if TYPE_CHECKING:
    from .plan import Plan

YES = ("y", "yes")


def wanted(yes: bool, simulate: bool) -> bool:
    """Whether to ask: someone is at a terminal to answer, and the run would pay."""
    if yes or simulate:
        return False
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, OSError, ValueError):  # a closed or replaced standard input: nobody to ask
        return False


def question(plan: Plan, gateways: Sequence[str]) -> str:
    """`send 12 shots to https://host, estimated $4.20? [y/N] `"""
    count = f"{plan.to_submit} shot{'s' * (plan.to_submit != 1)}"
    where = gateways[0] if len(gateways) == 1 else f"{len(gateways)} gateways ({', '.join(gateways)})"
    if plan.to_submit_usd is None:
        cost = "some of them at a price unknown"
    else:
        cost = f"estimated ${plan.to_submit_usd:.2f}"
        if plan.to_submit_billed is not None:
            cost += f" (about ${plan.to_submit_billed:.2f} at the gateway's bills so far)"
    return f"batchvid: send {count} to {where}, {cost}? [y/N] "


def ask(text: str) -> bool:
    """The question on the terminal, the answer from standard input; only y or yes is a yes (an empty line, end of
    input and anything else are a no)."""
    if not _in_foreground():
        # reading its terminal would stop the process (SIGTTIN): `batchvid run m.yaml > log &` would hang, asked
        # where nobody sees
        raise InputError("this run would send shots, and it is in the background of its terminal, where it cannot "
                         "be asked first: run it in the foreground to be asked, or give --yes")
    shown, opened = _where_to_show()
    try:
        print(text, end="", file=shown, flush=True)
        try:
            answer = sys.stdin.readline()
        except KeyboardInterrupt:  # "batchvid: interrupted" on a line of its own, not after the question
            print(file=shown, flush=True)
            raise
        if not answer.endswith("\n"):  # Ctrl-D: the next output would follow the question on its line
            print(file=shown, flush=True)
    finally:
        if opened:
            shown.close()
    return answer.strip().lower() in YES


def _in_foreground() -> bool:
    """False when standard input is this process's controlling terminal and another process group has it; true
    otherwise, a terminal that is not the controlling one included (reading it stops nobody)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (AttributeError, OSError, ValueError):
        return True


def _where_to_show() -> tuple[TextIO, bool]:
    """Standard error when it is a terminal; else the terminal itself (standard error taken to a log file must not
    hide the question that the run waits on), as sudo and ssh ask; (where, whether opened here)."""
    if sys.stderr.isatty():
        return sys.stderr, False
    try:
        return open("/dev/tty", "w", encoding="utf-8"), True  # noqa: SIM115 - closed by ask()
    except OSError:  # no controlling terminal
        return sys.stderr, False
