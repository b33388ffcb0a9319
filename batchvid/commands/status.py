"""batchvid status DIR: the journal of an output folder, summarised."""

from __future__ import annotations

import argparse
import os
import shlex
from collections import Counter
from pathlib import Path

from .. import journal as j
from .. import ledger, lock
from ..errors import FatalError, InputError
from ..output import print_json
from ..summary import next_steps, problem_lines, split_earlier


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="summarise a run's output folder",
                       description="Counts by state, spend, and failures with their reasons, read from "
                       "DIR/journal.sqlite, and whether a run is at work on the folder now. Sends nothing. Given "
                       "the MANIFEST instead, it reads the folder that `batchvid run MANIFEST` writes to (with "
                       "--simulate, the rehearsal's).")
    p.add_argument("out", type=Path, metavar="DIR|MANIFEST", help="the output folder of a run, or its manifest")
    p.add_argument("--simulate", action="store_true", help="with a MANIFEST: the folder of its --simulate rehearsal")
    p.add_argument("--json", action="store_true", help="print JSON: the counts, the spend, the shots not done with "
                   "their reasons, and the next steps")


def _folder(given: Path, simulate: bool) -> Path:
    """The output folder: `given` itself, or the one a run of the manifest `given` writes to."""
    if not os.path.exists(given):
        raise InputError(f"{given}: no such folder or manifest")
    if not os.path.isfile(given):
        if simulate:
            raise InputError(f"--simulate goes with a MANIFEST, not with the folder {given}")
        return given
    from ..outfolder import batches_near, manifest_folder

    run_out = _run_out(given)
    folder = manifest_folder(given, run_out, simulate=simulate)
    if not os.path.isfile(folder / j.FILE_NAME):
        rehearsal = manifest_folder(given, run_out, simulate=True)
        # out/<name> is under the working folder: a run from another one wrote elsewhere
        above = [] if run_out else [found for found in batches_near(given, folder) if found.name == folder.name]
        if above:
            hint = (f"; {above[0]}, where a run from {above[0].parent.parent} writes, has a journal: batchvid status "
                    f"{shlex.quote(str(above[0]))}")
        elif not simulate and os.path.isfile(rehearsal / j.FILE_NAME):
            hint = f"; its rehearsal is in {rehearsal}: add --simulate"
        else:
            hint = ""
        raise FatalError(f"{given} has not been run{' with --simulate' * simulate} into {folder} yet{hint}")
    return folder


def _run_out(manifest: Path) -> object:
    """The manifest's run.out, read without validating the rest (status must not take a whole parse)."""
    from ..manifest import out_problem, substituted
    from ..manifest._base import line_of
    from ..yamlsafe import YamlProblem, load

    try:
        document = load(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {manifest}: {getattr(exc, 'strerror', None) or exc}") from None
    except YamlProblem as exc:
        raise InputError(f"{manifest}:{exc.line}: {exc.message}") from None
    run = document.get("run") if isinstance(document, dict) else None
    if not isinstance(run, dict) or run.get("out") is None:
        return None
    value = substituted(run, "out", manifest)
    if (problem := out_problem(value)) is not None:
        raise InputError(f"{manifest}:{line_of(run, 'out', 1)}: {problem}")
    return value


def run(args: argparse.Namespace) -> int:
    out = _folder(args.out, args.simulate)
    path = out / j.FILE_NAME
    if not os.path.isfile(path):
        raise FatalError(f"no journal in {out}: not the output folder of a batchvid run")
    with j.Journal(path, read_only=True) as journal:
        rows = journal.rows()
        origin = journal.meta(j.ORIGIN_KEY)
        unplanned = int(journal.meta(j.UNPLANNED_KEY) or 0)
    running = lock.holder(out)  # a run at work: its counts move, and "run again" would be refused
    if args.json:
        _print_json(rows, origin, running, unplanned)
    else:
        _print_text(rows, origin, running, unplanned)
    return 0


def _steps(shots: list[j.Row], unplanned: int) -> list[str]:
    """What to do next: about the shots not done, then about those --only left out."""
    steps = next_steps(shots)
    if unplanned:
        steps.append(f"run the manifest without --only to render the {unplanned} shot{'s' * (unplanned != 1)} the "
                     "latest run left out")
    return steps


def _print_json(rows: list[j.Row], origin: str | None, running: str | None, unplanned: int) -> None:
    # earlier versions of changed shots were paid for: in the spend, not among the shots
    shots, earlier = split_earlier(rows)
    billed, estimated = ledger.spend(rows)
    problems = [{"id": r.id, "state": r.state, "error": r.error} for r in shots if r.state != j.DONE]
    print_json({"shots": len(shots), "states": dict(Counter(row.state for row in shots)), "billed_usd": str(billed),
                "estimated_usd": str(estimated),
                # the tasks still rendering, charged as they finish: not yet in billed_usd or estimated_usd
                "in_flight_estimated_usd": str(ledger.in_flight(rows)), "problems": problems, "origin": origin,
                # the manifest's shots that the latest run left out with --only, never run: not among "shots"
                "not_run": unplanned,
                "earlier_versions": [row.id for row in earlier],
                "running_pid": int(running) if running and running.isdigit() else running,
                # what to do about the shots not done; none while a run is still at them
                "next": [] if running is not None else _steps(shots, unplanned)})


def _print_text(rows: list[j.Row], origin: str | None, running: str | None, unplanned: int) -> None:
    shots, earlier_rows = split_earlier(rows)
    earlier = [row.id for row in earlier_rows]
    counts = Counter(row.state for row in shots)
    rehearsal = " (a rehearsal with --simulate: not real videos)" if origin == j.SIMULATOR else ""
    kept = ""
    if earlier:
        names = ", ".join(earlier[:5]) + (", ..." if len(earlier) > 5 else "")
        kept = f"; {len(earlier)} earlier version{'s' * (len(earlier) != 1)} kept ({names})"
    not_run = f"; {unplanned} more of the manifest not run yet (left out by --only)" if unplanned else ""
    print(f"{len(shots)} shot{'s' * (len(shots) != 1)}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + not_run + kept + rehearsal)
    spent = ledger.spend_line(rows)
    print(spent[0].upper() + spent[1:] + (" (earlier versions included)" if earlier else ""))
    for line in problem_lines(shots):
        print(line)
    if running is not None:
        print(f"  a batchvid run (pid {running}) is working on this folder: these are its counts so far; "
              "`batchvid status` again follows it")
        return
    for step in _steps(shots, unplanned):
        print(f"  next: {step}")
