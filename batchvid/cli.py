"""batchvid's command line: subcommands, and one error handler around them all."""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from . import __version__
from .commands import estimate, models, schema, validate
from .errors import FatalError, without_secrets
from .problems import ManifestInvalid

COMMANDS: dict[str, ModuleType] = {
    "validate": validate,
    "estimate": estimate,
    "models": models,
    "schema": schema,
}


def _network_commands() -> None:
    """Commands that need aiohttp, imported on first use of the parser (keeps module import light)."""
    from .commands import run, simulate, status

    COMMANDS.update({"run": run, "status": status, "simulate": simulate})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batchvid",
        description="Turn a YAML manifest of video shots into mp4 files and a cost ledger, "
        "through an asynchronous video-generation gateway.",
    )
    parser.add_argument("--version", action="version", version=f"batchvid {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output: each shot's submit, render, download and retries (-vv: each poll too)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        module.add_parser(sub)
        # -v works after the subcommand too; SUPPRESS keeps the top-level count when it is not given
        sub.choices[name].add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                       help="more log output (-vv for debug)")
    return parser


def _crash_log(exc: BaseException) -> Path | None:
    """The traceback, without credentials, in a new file of the temp folder (not the user's: nothing but the output
    folder is written by a run); a file of our own, readable by us alone: never one that someone else put there."""
    try:
        handle, name = tempfile.mkstemp(prefix="batchvid-crash-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(without_secrets("".join(traceback.format_exception(exc))))
    except OSError:
        return None
    return Path(name)


def _writable_anywhere() -> None:
    """A prompt or a path that the terminal's encoding cannot show (PYTHONIOENCODING=ascii, a legacy code page) is
    written escaped, not turned into a crash."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


class _SecretFreeFormatter(logging.Formatter):
    """Every log line with the credentials left out: a line may quote the gateway, which can echo the key
    (in a message, a video URL's path)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return without_secrets(self.inner.format(record))


def main(argv: Sequence[str] | None = None) -> int:
    _writable_anywhere()
    _network_commands()
    args = build_parser().parse_args(argv)
    # -v: each shot's steps; -vv: each poll too. Other libraries' (asyncio's, aiohttp's) stay at their warnings
    logging.basicConfig(level=logging.WARNING, format="batchvid: %(levelname)s: %(message)s")
    logging.getLogger("batchvid").setLevel(logging.WARNING - 10 * min(args.verbose, 2))
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, _SecretFreeFormatter):  # main() may run many times in one process
            handler.setFormatter(_SecretFreeFormatter(handler.formatter))
    try:
        return int(COMMANDS[args.command].run(args))
    except ManifestInvalid as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        print(exc.summary(" in the manifest"), file=sys.stderr)
        return exc.exit_code
    except FatalError as exc:
        print(f"batchvid: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`batchvid models | head`): not an error worth a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("batchvid: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a message
        log = _crash_log(exc)
        where = f"details in {log}" if log else "no details written: the temp folder is not writable"
        print(f"batchvid: unexpected error ({type(exc).__name__}); {where}", file=sys.stderr)
        return 3
