"""placeholder"""
from __future__ import annotations

import argparse

from ..errors import FatalError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise FatalError("not built yet")
