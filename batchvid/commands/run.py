"""batchvid run MANIFEST: submit, poll and download a whole batch, resumably, never paying twice."""

from __future__ import annotations

import argparse
import os
import sys
from argparse import ArgumentTypeError
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import argtypes, collector, confirm, keys, settled, summary
from .. import journal as j
from .. import runsettings as rs
from ..durable import sync_folder
from ..errors import FatalError, InputError, redact
from ..lock import FolderLock, check_supported
from ..outfolder import manifest_folder, sent_elsewhere
from ..problems import did_you_mean
from ._execute import base_url, execute, families_of, keys_missing, remember_keys, require_keys
from ._plannotes import offpeak_note, room_note
from .estimate import add_budget_flags

if TYPE_CHECKING:
    from ..plan import Plan
    from ..pricing import PriceTable, Quote
    from ..proxy import Proxies
    from ..runsettings import RunSettings
    from ..shot import Shot
    from ..validate import Batch

# The manifest's stack (YAML, jsonschema, prices) is imported only when the batch is not settled already
# (settled.py), and the network stack (aiohttp, the scheduler, the simulator) only when the plan has work.

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="submit, poll and download every shot; resumable",
        description="Validate and price the manifest, then submit every shot under a concurrency limit "
        "and a rate limit, poll each task, download each video to OUT/<id>.mp4 and keep OUT/ledger.csv. "
        "Run the same command again to continue: finished shots are skipped, tasks in flight are polled, "
        "never resubmitted; a batch with nothing left to send needs no key and no network. The API key is "
        "read from the environment (BATCHVID_API_KEY unless the manifest's gateway block names another "
        "variable); proxies too (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). Exit 0 all done, 1 some failed or uncertain, "
        "2 bad input, refused budget or a no to the question before sending, 130 interrupted (Ctrl-C), 143 "
        "stopped by SIGTERM (both stop gracefully: nothing more is submitted, state is saved).",
    )
    # optional only so that `--force ID... MANIFEST` (argparse gives --force every word after it) still works
    p.add_argument("manifest", type=Path, nargs="?", help="the manifest YAML file (required)")
    p.add_argument("--out", type=Path, help="output folder (default: the manifest's run.out, beside it, else "
                   "out/<name> under the current folder; with --simulate, the same name ending in -simulated)")
    p.add_argument("--base-url", help="gateway base URL for every family, like https://llm.ai-nebula.com (a "
                   "trailing /v1 is taken off; overrides the manifest)")
    p.add_argument("--concurrency",
                   help=f"tasks in flight at the gateway at once (default {rs.CONCURRENCY.default}). A family's own, "
                   "lower limit, as its provider renders at once, goes in the manifest: "
                   "gateway.families.vidu.concurrency: 5")
    p.add_argument("--download-concurrency",
                   help=f"videos downloaded at once (default {rs.DOWNLOAD_CONCURRENCY.default}); separate from "
                   "--concurrency: a finished task waiting for its download holds no gateway slot")
    p.add_argument("--rate", help="requests per second or minute to each gateway, e.g. 2/s or 120/min (default "
                   f"{rs.RATE.default}; submits, polls and downloads share it; no burst above it; 'unlimited' for a "
                   "gateway of your own). A family's own, lower pace, as its provider allows, goes in the manifest: "
                   "gateway.families.veo.rate: 10/min")
    p.add_argument("--poll-interval", help=f"the base poll interval in seconds (default {rs.POLL_INTERVAL.default}, "
                   "as the documents advise; at most 3600); polls adapt around it from progress and learned render "
                   "times")
    p.add_argument("--fixed-polling", action="store_true", help="poll every --poll-interval, no adapting")
    p.add_argument("--deadline-minutes", help="give up waiting for a task this long after its submit, in whichever "
                   f"run (default {rs.DEADLINE_MINUTES.default}; -offpeak models at least 49 h); its task id is kept "
                   "for a run with a larger value")
    p.add_argument("--task-retries", metavar="N", help="new tasks a shot gets in a run after tasks that failed for the "
                   "provider's own trouble, like an internal error or a timeout (default "
                   f"{rs.TASK_RETRIES.default}; 0: none; failed tasks are not charged). A task refused for its "
                   "request (moderation, a parameter) is not sent again: see --retry-failed")
    add_budget_flags(p)
    p.add_argument("--simulate", action="store_true",
                   help="run against a built-in gateway simulator on loopback (free, no key needed); it keeps its "
                   "tasks in the folder, so a rehearsal resumes like a real run")
    p.add_argument("--resubmit-uncertain", action="store_true",
                   help="resend shots whose submit may or may not have reached the gateway (may pay twice)")
    p.add_argument("--adopt", action="append", default=[], metavar="ID=TASK_ID",
                   help="follow this task for the uncertain shot ID instead of sending it again: the task id from "
                   "your account's records at the gateway, or as printed by a run whose journal could not save it; "
                   "repeatable. If the gateway does not know the task, the shot is uncertain again")
    p.add_argument("--retry-failed", action="store_true", help="resubmit shots whose task failed (not charged); "
                   "a video refused after its task succeeded (over --max-video-mb) is fetched again, not rerendered")
    p.add_argument("--force", nargs="+", default=[], metavar="ID", help="rerun these shots from scratch (after "
                   "the manifest, or with the manifest last: a last word naming a file is taken as the manifest)")
    p.add_argument("--no-submit", action="store_true", help="submit nothing: follow the tasks already at the "
                   "gateway (charged as they render) to their videos, and fetch again any paid video gone from the "
                   "folder; the shots not submitted yet wait for a run without it (after a Ctrl-C, or a no to the "
                   "question, this collects what is paid for and starts nothing new)")
    p.add_argument("--only", action="append", default=[], metavar="IDS", help="run only these shots: ids or "
                   "patterns like 'hero-*', comma-separated, repeatable (to see a few videos before paying for "
                   "all). The whole manifest is still validated; the other shots wait for a run without --only")
    p.add_argument("--max-video-mb", help=f"refuse a video larger than this (default {rs.MAX_VIDEO_MB.default})")
    p.add_argument("--max-answer-mb", help="refuse a gateway answer larger than this (default "
                   f"{rs.MAX_ANSWER_MB.default}; a Veo answer may hold its video)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-y", "--yes", action="store_true", help="send without asking. Typed in a terminal, a run that "
                   "would send shots to a real gateway shows its plan and estimated cost and asks first (one in the "
                   "background of its terminal, which cannot be asked, is refused); a run whose input is not a "
                   "terminal (a script, CI) or a rehearsal never asks")
    p.add_argument("--dry-run", action="store_true", help="validate, price and plan against the output folder, "
                   "print what would be submitted and its estimated cost, then stop: nothing is sent or written")


def _settings(args: argparse.Namespace, batch: Batch, out: Path) -> RunSettings:
    from ..runsettings import RunSettings

    def flag(setting: rs.Setting[T]) -> T:
        return rs.required(setting, getattr(args, setting.name), batch.manifest.run)

    max_cost = rs.given(rs.MAX_COST, args.max_cost, batch.manifest.run)
    return RunSettings(
        out=out, concurrency=flag(rs.CONCURRENCY), download_concurrency=flag(rs.DOWNLOAD_CONCURRENCY),
        rate=flag(rs.RATE), poll_interval=flag(rs.POLL_INTERVAL), deadline=flag(rs.DEADLINE_MINUTES) * 60,
        max_cost=max_cost, max_video_bytes=int(flag(rs.MAX_VIDEO_MB) * 1024**2),
        max_answer_bytes=int(flag(rs.MAX_ANSWER_MB) * 1024**2), fixed_polling=args.fixed_polling,
        task_retries=flag(rs.TASK_RETRIES), no_submit=args.no_submit,
        family_concurrency={family: endpoint.concurrency for family, endpoint in batch.manifest.gateway.families.items()
                            if endpoint.concurrency is not None},
    )


def _out_folder(args: argparse.Namespace, run_out: object = None) -> Path:
    """--out, else the manifest's run.out (given, once parsed), else out/<name>."""
    if args.out is not None:
        return Path(args.out)
    return manifest_folder(args.manifest, run_out, simulate=args.simulate)


def _check_origin(journal: j.Journal, simulate: bool, out: Path, *, record: bool = True) -> None:
    """Refuse to mix a rehearsal's results with real ones in one folder (either way round)."""
    origin = journal.meta(j.ORIGIN_KEY)
    wanted = j.SIMULATOR if simulate else j.GATEWAY
    if origin is None:
        if record:
            journal.set_meta(j.ORIGIN_KEY, wanted)
    elif origin != wanted:
        if origin == j.SIMULATOR:
            raise InputError(f"{out} holds a rehearsal made with --simulate: its videos are not real. Run into "
                             "another --out (or delete that folder) to generate the batch for real")
        raise InputError(f"{out} holds real results: rehearse with --simulate into another --out")


def _inputs(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The options a settled batch's record depends on (besides the manifest and the files it read)."""
    return {
        "manifest": str(args.manifest.resolve()), "out": str(out.resolve()), "out_given": args.out is not None,
        "prices": None if args.prices is None else str(args.prices.resolve()),
        "max_cost": args.max_cost, "allow_unpriced": args.allow_unpriced, "simulate": args.simulate,
        "only": sorted(args.only),
    }


def _settled_already(args: argparse.Namespace) -> int | None:
    """The exit code when this very batch is settled already (see settled.py); None to take the full path."""
    if args.resubmit_uncertain or args.retry_failed or args.force or args.adopt or args.dry_run:
        return None
    # Without --out the folder may come from the manifest's run.out, unknown until it is parsed: look where
    # it would be by default; the record there only matches a manifest that derived the same folder.
    out = _out_folder(args)
    if not os.path.isfile(out / j.FILE_NAME) or not os.access(out, os.W_OK):
        return None
    with FolderLock(out), j.Journal(out / j.FILE_NAME) as journal:
        found = settled.recall(journal, args.manifest, _inputs(args, out), out)
        if found is None:
            return None
        summary.print_plan(found.plan)
        if found.ledger is None or found.ledger != settled.ledger_stamp(out):  # gone or touched since: made again
            summary.write_ledger(journal, out, found.journal_rows)
            settled.restamp_ledger(journal, out)
        return summary.report(found.rows, out, None)


def _manifest_given(args: argparse.Namespace) -> None:
    """`run --force a b batch.yaml`: argparse hands the manifest to --force; take it back."""
    if args.manifest is not None:
        return
    if args.force and os.path.isfile(args.force[-1]):
        args.manifest = Path(args.force.pop())
        if not args.force:
            raise InputError("--force: give the ids of the shots to rerun")
        return
    raise InputError("run: no manifest given (batchvid run MANIFEST [options])")


def run(args: argparse.Namespace) -> int:
    _manifest_given(args)
    _check_no_submit(args)
    args.adopt = _adoptions(args.adopt)
    if args.base_url is not None:
        from ..baseurl import base_url_problem

        if (problem := base_url_problem(args.base_url)) is not None:
            raise InputError(f"--base-url {problem}")
    finished = _settled_already(args)
    if finished is not None:
        return finished
    from ..estimate import check_budget, estimate, price_table
    from ..proxy import Proxies
    from ..validate import load_batch

    # what the batch is made from, taken as it is read (see settled.py): the code, the prices file, the
    # manifest's bytes as parsed, and its images' stamps
    settled.code_stamp()
    prices = [] if args.prices is None else [(args.prices.resolve(), settled.stamp(args.prices))]
    batch = load_batch(args.manifest)
    if args.only:
        batch = _only(batch, args.only, args.manifest)
    made_from = settled.Snapshot(batch.manifest.source, (*batch.files, *prices))
    table = price_table(batch, args.prices)
    result = estimate(batch.shots, table)
    settings = _settings(args, batch, _out_folder(args, batch.manifest.run.get("out")))
    if not args.no_submit:  # what is in flight is charged whatever the cap: fetching it spends nothing more
        check_budget(result, settings.max_cost, args.allow_unpriced)
    _check_named_shots(args, batch)
    new_batch = not os.path.exists(settings.out / j.FILE_NAME)
    if new_batch and args.out is None and not batch.manifest.run.get("out"):
        # out/<name> under the working folder: typed in another folder, the run would begin the batch again
        if (found := sent_elsewhere(args.manifest, batch.shots, settings.out, args.simulate)) is not None:
            raise InputError(found.said(args.manifest, settings.out, args.simulate))
    if args.dry_run:
        return _dry_run(args, batch, result.quotes, settings)
    if new_batch and not args.simulate and not args.no_submit:
        # a new batch: every shot will be sent, so a missing key is said before any folder is made (with a
        # journal, the plan decides: a batch with nothing left to send needs no key)
        require_keys(batch)
    elif args.simulate:  # a rehearsal's simulator takes the key set there, if any: one it cannot take, said as early
        keys.from_env(keys.DEFAULT_KEY_ENV)
    check_supported()
    remember_keys(batch)  # before the plan writes any prompt
    announced = None
    if confirm.wanted(args.yes, args.simulate):  # before any folder is made: a no leaves nothing behind
        plan = _preview(args, batch, result.quotes, settings)
        if plan.has_work and not args.simulate:  # a key it lacks is said before the question, not after a yes
            require_keys(batch)
        if plan.to_submit and not confirm.ask(confirm.question(plan, _gateways_of(args, batch, plan))):
            print("batchvid: nothing sent, nothing written (--yes sends without asking)", file=sys.stderr)
            if paid := plan.count("in-flight") + plan.count("adopted") + plan.count("download"):
                print(f"  tasks already made at the gateway ({paid}) are charged as they render: --no-submit fetches "
                      "their videos and sends nothing new", file=sys.stderr)
            return 2
        announced = plan.summary()
    proxies = Proxies()  # HTTPS_PROXY, NO_PROXY, ... as the run starts
    _make_folder(settings.out)
    import asyncio  # here: a settled batch's answer (above) needs no event loop, and its import is 50 ms of it

    with collector.tuned_for_a_run():
        return asyncio.run(_run(args, batch, table, result.quotes, settings, made_from, proxies, announced))


def _gateways_of(args: argparse.Namespace, batch: Batch, plan: Plan) -> list[str]:
    """The base URLs the plan's shots to submit would go to, as fit to show (a query string may hold a credential)."""
    from ..plan import TO_SUBMIT

    to_submit = {line.shot_id for line in plan.lines if line.category in TO_SUBMIT}
    families = {shot.spec.family for shot in batch.shots if shot.id in to_submit}
    return sorted({redact(base_url(args, batch, family).rstrip("/")) for family in families})


def _check_no_submit(args: argparse.Namespace) -> None:
    """--no-submit sends nothing: a flag whose whole point is to send again would be quietly undone by it."""
    if not args.no_submit:
        return
    for flag, given in (("--force", args.force), ("--resubmit-uncertain", args.resubmit_uncertain)):
        if given:
            raise InputError(f"{flag} sends shots again, and --no-submit sends nothing: give one of them")


def _check_named_shots(args: argparse.Namespace, batch: Batch) -> None:
    """--force and --adopt name shots of the batch: a typo would otherwise be a flag silently doing nothing."""
    for flag, named in (("--force", args.force), ("--adopt", args.adopt)):
        unknown = sorted(set(named) - {shot.id for shot in batch.shots})
        if unknown:
            hint = did_you_mean(unknown[0], (shot.id for shot in batch.shots))
            raise InputError(f"{flag}: no shot with id {unknown[0]!r}{hint} in {args.manifest}"
                             + (" among the shots --only chose" if args.only else ""))


def _make_folder(out: Path) -> None:
    made = [folder for folder in (out, *out.parents) if not os.path.exists(folder)]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"the output folder {out} is a file, or inside one: give --out a folder") from None
    except OSError as exc:
        raise FatalError(f"cannot create the output folder {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise FatalError(f"the output folder {out} is not writable")
    for folder in made:  # each new folder's name synced in its parent, as the journal's is in it
        sync_folder(folder.parent)


def _adoptions(words: list[str]) -> dict[str, str]:
    """--adopt SHOT=TASK_ID, as often as given -> {shot id: task id}."""
    adopted: dict[str, str] = {}
    for word in words:
        try:
            shot_id, task_id = argtypes.adoption(word)
        except ArgumentTypeError as exc:
            raise InputError(f"--adopt: {exc}") from None
        if adopted.setdefault(shot_id, task_id) != task_id:
            raise InputError(f"--adopt: {shot_id} is given two tasks; a shot adopts one")
    return adopted


def _only(batch: Batch, words: list[str], manifest: Path) -> Batch:
    from ..validate import only

    chosen = only(batch, words, manifest)
    left = len(batch.shots) - len(chosen.shots)
    if left:
        print(f"--only: {len(chosen.shots)} of {len(batch.shots)} shots; the other {left} wait for a run without "
              "--only", file=sys.stderr)
    return chosen


def _dry_run(args: argparse.Namespace, batch: Batch, quotes: dict[str, Quote], settings: RunSettings) -> int:
    _preview(args, batch, quotes, settings)
    print(f"batchvid: dry run: nothing sent, nothing written ({settings.out})")
    return 0


def _preview(args: argparse.Namespace, batch: Batch, quotes: dict[str, Quote], settings: RunSettings) -> Plan:
    """The plan a run would make now, from the folder's journal (read-only) or from nothing, shown with its notes;
    no network, no key, nothing written."""
    path = settings.out / j.FILE_NAME
    with j.Journal(path, read_only=True) if os.path.isfile(path) else j.Journal(Path(":memory:")) as journal:
        _check_origin(journal, args.simulate, settings.out, record=False)
        plan = _plan(args, batch, quotes, settings.out, journal, dry=True)
        _announce(args, batch, plan, journal, settings)
    return plan


def _announce(args: argparse.Namespace, batch: Batch, plan: Plan, journal: j.Journal, settings: RunSettings) -> None:
    """The plan and what it would take long for, or not find room for, on standard error."""
    summary.print_plan(plan)
    offpeak_note(plan, batch, settings.concurrency)
    if not args.simulate:  # a rehearsal's videos are a few kB
        room_note(plan, batch, journal, settings.out)


def _plan(args: argparse.Namespace, batch: Batch, quotes: dict[str, Quote], out: Path, journal: j.Journal, *,
          dry: bool = False) -> Plan:
    """The plan for this batch and these options; earlier versions followed where the batch has their gateway."""
    from ..families import MODELS
    from ..plan import PlanOptions, make_plan
    from ..spare import Spare

    options = PlanOptions(args.resubmit_uncertain, args.retry_failed, frozenset(args.force), args.adopt,
                          Spare(out).read(), {shot.id: shot.fingerprint() for shot in batch.left_out},
                          no_submit=args.no_submit)
    families = set(families_of(batch))
    return make_plan(journal, batch.shots, quotes, out, options,
                     lambda row: row.model in MODELS and MODELS[row.model].family in families, dry=dry)


async def _run(
    args: argparse.Namespace, batch: Batch, table: PriceTable, quotes: dict[str, Quote], settings: RunSettings,
    made_from: settled.Snapshot, proxies: Proxies, announced: str | None,
) -> int:
    """The run itself; `announced`: the plan's summary as the question before it showed it, not shown again if the
    plan is still the same."""
    async with AsyncExitStack() as stack:
        stack.enter_context(FolderLock(settings.out))
        journal = stack.enter_context(j.Journal(settings.out / j.FILE_NAME))
        _check_origin(journal, args.simulate, settings.out)
        # without a key the plan is only shown: a run that then stops for it must not have changed the batch (a
        # forced shot's video renamed and its new version queued, to be paid for by the next run without --force)
        if not args.simulate and keys_missing(batch):
            shown = _plan(args, batch, quotes, settings.out, journal, dry=True)
            if shown.summary() != announced:
                _announce(args, batch, shown, journal, settings)
                announced = shown.summary()
            if shown.has_work:
                require_keys(batch)  # says which key, and how to set it
        settled.forget(journal)  # this run may change the batch: an old record must not outlive it
        plan = _plan(args, batch, quotes, settings.out, journal)
        _note_unplanned(journal, batch)
        if plan.summary() != announced:
            _announce(args, batch, plan, journal, settings)
        shots = [*batch.shots, *(_follower(row, quotes) for row in plan.followers)]
        runner, stopped_by = None, None
        if plan.has_work:
            runner, stopped_by = await execute(args, batch, shots, table, quotes, settings, journal, plan, stack,
                                                proxies)
        else:
            summary.write_ledger(journal, settings.out)  # nothing to send: no key, no network, no simulator
        ids = [shot.id for shot in shots]
        wanted = set(ids)
        rows = [row for row in journal.rows() if row.id in wanted]
        held = {line.shot_id for line in plan.lines if line.category == "held"} if args.no_submit else None
        code = summary.report(rows, settings.out, runner, settings.max_cost, held)
        if stopped_by is None and all(row.state in (j.DONE, j.FAILED, j.UNCERTAIN) for row in rows):
            settled.remember(journal, made_from, _inputs(args, settings.out), ids, settings.out)
        return code if stopped_by is None else 128 + stopped_by
    return 1


def _note_unplanned(journal: j.Journal, batch: Batch) -> None:
    """How many shots --only left out that the journal has no row of, for `status` to say they are still to run."""
    unplanned = len(batch.left_out) - len(journal.rows_by_id(shot.id for shot in batch.left_out))
    value = str(unplanned) if unplanned else None
    if journal.meta(j.UNPLANNED_KEY) != value:  # a resume of a batch run whole writes nothing
        journal.set_meta(j.UNPLANNED_KEY, value)


def _follower(row: j.Row, quotes: dict[str, Quote]) -> Shot:
    """An earlier version still rendering, as a shot to poll and download (never to submit: it has a task); its
    quote, from the journal, is added to `quotes`."""
    from ..pricing import Quote
    from ..shot import Shot

    cost = None if not row.estimated_usd else j.amount(row, "estimated_usd")
    quotes[row.id] = Quote(unit_usd=None, cost_usd=cost, source=row.price_source or "", unit_label="")
    return Shot(id=row.id, model=row.model, fields={"duration": row.seconds, "resolution": row.resolution}, line=0)
