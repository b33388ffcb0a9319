"""What a run tells its user at the end: the plan, the ledger, the summary line and what needs a look."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from . import journal as j
from . import ledger
from .errors import CERT_UNTRUSTED, KEY_REFUSED, REDIRECTED, FatalError
from .plan import Plan
from .retryable import request_fault

if TYPE_CHECKING:
    from .scheduler import Runner


#: the shots whose plan is explained, at most, for each category: an edit to `defaults` changes every shot, and
#: ten thousand lines alike would bury the rest (the plan's counts say how many; status and the ledger list them)
PLAN_LINES_EACH = 10


#: a bill this far above its estimate is said: rounding of the gateway's figures stays under it
BILL_RATIO_SAID = Decimal("1.01")


def print_plan(plan: Plan) -> None:
    """The plan's counts, and the shots whose plan needs explaining (the first few of each kind), on standard
    error."""
    print(plan.summary(), file=sys.stderr)
    said: Counter[str] = Counter()
    for line in plan.lines:
        if line.category in ("changed", "forced", "adopted", "uncertain", "download", "done", "copy") and line.detail:
            said[line.category] += 1
            if said[line.category] <= PLAN_LINES_EACH:
                print(f"  {line.shot_id}: {line.category}: {line.detail}", file=sys.stderr)
    for category, count in said.items():
        if count > PLAN_LINES_EACH:
            print(f"  ... and {count - PLAN_LINES_EACH:,} more {category} shots", file=sys.stderr)
    if held := plan.count("held"):
        print(f"  {held} shot{'s' * (held != 1)} not submitted (--no-submit): a run without it sends "
              f"{'them' if held != 1 else 'it'}", file=sys.stderr)
    if plan.elsewhere:  # another manifest's shots in the same --out, shots removed, or left out by --only
        many = plan.elsewhere != 1
        print(f"  {plan.elsewhere} other shot{'s' * many} in this folder's journal {'are' if many else 'is'} not part "
              f"of this run: left as {'they are' if many else 'it is'}, and kept in the ledger", file=sys.stderr)


def write_ledger(journal: j.Journal, out: Path, rows: list[j.Row] | None = None) -> None:
    """Rewrite the ledger, or stop with one line when the folder cannot take it."""
    try:
        ledger.write(journal, out, rows)
    except OSError as exc:
        raise FatalError(f"cannot write {out / ledger.FILE_NAME}: {exc.strerror}") from None


#: what a shot's reason says (its marker) -> the step that gets it going again; the first that applies is said
_WAYS_OUT = (
    (KEY_REFUSED, "check the API key and the account's balance at the gateway, then run the same command again"),
    (CERT_UNTRUSTED, "have that certificate trusted (SSL_CERT_FILE), then run the same command again"),
    (j.POLL_REFUSED, "if the API key or the base URL changed since the kept tasks were submitted, run again with "
                     "those: another account or gateway does not know them; --force ID renders a shot anew, paying "
                     "again"),
    (REDIRECTED, "give the base URL the gateway redirects to (--base-url, or gateway.base_url in the manifest), "
                 "then run again"),
    (j.TIMED_OUT, "run again with a larger --deadline-minutes to wait longer for the tasks that timed out (a run waits "
                  "for a task until that long after its submit)"),
)


def next_steps(rows: list[j.Row], no_submit: bool = False) -> list[str]:
    """What the user can do about shots that are not done, by their states; `no_submit`: the run sent nothing
    (--no-submit), so its pending shots were held back by that, not left by a stop."""
    counts = Counter(row.state for row in rows)
    paid = sum(1 for row in rows if row.state == j.FAILED and j.rendered(row))
    steps = []
    held_back = sum(1 for row in rows if row.state == j.PENDING and (row.error or "").startswith(j.OVER_BUDGET))
    if held_back:
        steps.append(f"raise --max-cost (or the manifest's run.max_cost) to submit the {held_back} shot(s) it held "
                     "back: the same cap would hold them back again")
    pending = counts[j.PENDING] - held_back  # the shots a run would send
    if no_submit and pending:
        steps.append(f"run without --no-submit to submit the {pending} pending shot(s)")
        pending = 0  # said
    if pending or counts[j.SUBMITTED] or counts[j.DOWNLOADING] or counts[j.SUBMITTING]:
        errors = [row.error or "" for row in rows if row.state in (j.PENDING, j.SUBMITTED, j.DOWNLOADING)]
        first = _made_elsewhere(rows) or next(
            (step for marker, step in _WAYS_OUT if any(marker in error for error in errors)),
            "run the same command again to continue")
        only_paid = ("; --no-submit fetches their videos alone, sending nothing new"
                     if pending and (counts[j.SUBMITTED] or counts[j.DOWNLOADING]) else "")
        steps.append(f"{first} (tasks in flight are polled, never resent{only_paid}){_keeping(rows)}")
    unpaid = [row for row in rows if row.state == j.FAILED and not j.rendered(row)]
    refused = sum(1 for row in unpaid if request_fault(row.error or ""))
    if refused:
        steps.append(f"change what the gateway refused in the {refused} shot(s) failed for their request (their "
                     "content, a parameter: see the reasons), then run again: a changed shot is sent anew, whereas "
                     "--retry-failed sends it as it is, to be refused again")
    if len(unpaid) > refused:
        others = " other" if refused else ""
        steps.append(f"add --retry-failed to submit the{others} failed shots again (failed tasks are not charged)")
    if paid:
        one = paid == 1
        steps.append(f"{paid} failed shot{'' if one else 's'} {'was' if one else 'were'} rendered and charged, but "
                     f"{'its video was' if one else 'their videos were'} refused: fix the cause (such as "
                     f"--max-video-mb), then add --retry-failed to fetch {'it' if one else 'them'} from the same "
                     f"task{'' if one else 's'}, without paying again")
    if counts[j.UNCERTAIN]:
        steps.append("add --resubmit-uncertain to send the uncertain shots again (the gateway may have made them "
                     "already: that may pay twice), or --adopt ID=TASK_ID for one whose task id you know, to follow "
                     "that task instead")
    return steps


def _keeping(rows: list[j.Row]) -> str:
    """How long the gateway keeps the videos of the tasks in flight, where that is published: one fetched later is
    lost, though paid for (a run stopped in the evening and resumed after a weekend)."""
    from .families import FAMILIES, MODELS  # only with tasks in flight: a settled batch's answer needs no family

    families: dict[str, list[str]] = {}
    for name in sorted({MODELS[row.model].family for row in rows
                        if row.state in (j.SUBMITTED, j.DOWNLOADING) and row.model in MODELS}):
        if kept := FAMILIES[name].video_kept:
            families.setdefault(kept, []).append(name)
    if not families:
        return ""
    how_long = ", ".join(f"{kept} ({', '.join(names)})" for kept, names in sorted(families.items()))
    return (f"; before long: the gateway keeps a finished video {how_long}, and one fetched later is lost, though "
            "paid for")


def _made_elsewhere(rows: list[j.Row]) -> str | None:
    """The step for tasks kept because the run's gateway did not know them, and another base URL made them."""
    bases = sorted({row.gateway for row in rows if row.state in (j.SUBMITTED, j.DOWNLOADING) and row.gateway
                    and j.MADE_ELSEWHERE in (row.error or "")})
    if not bases:
        return None
    return (f"run again at the gateway that made the kept tasks, {' and '.join(bases)} (--base-url, or the manifest's "
            "gateway.base_url or a family's own): this run's gateway did not know them; --force ID renders a shot "
            "anew, paying again")


def problem_lines(rows: list[j.Row], limit: int = 20) -> list[str]:
    """A line for each state and reason of the shots not done, in the order first met: a thousand shots pending
    for one reason make one line, not a thousand."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        if row.state != j.DONE:
            groups.setdefault((row.state, row.error or ""), []).append(row.id)
    lines = []
    for (state, error), ids in list(groups.items())[:limit]:
        who = ids[0]
        if len(ids) > 1:
            more = f" and {len(ids) - 3:,} more" if len(ids) > 3 else ""
            who = f"{len(ids):,} shots ({', '.join(ids[:3])}{more})"
        lines.append(f"  {who}: {state}: {error}".rstrip(": "))
    if len(groups) > limit:
        left = sum(len(ids) for ids in list(groups.values())[limit:])
        lines.append(f"  ... and {left:,} more shot{'s' * (left != 1)} (see the ledger)")
    return lines


def split_earlier(rows: list[j.Row]) -> tuple[list[j.Row], list[j.Row]]:
    """(the shots, the earlier versions of changed shots, `<id>@<n>`): those were paid for, but are not the batch."""
    return [r for r in rows if j.EARLIER not in r.id], [r for r in rows if j.EARLIER in r.id]


def report(rows: list[j.Row], out: Path, runner: Runner | None, max_cost: object = None,
           held: Collection[str] | None = None) -> int:
    """Print the run's summary; the exit code: 0 when every shot is done, else 1 (earlier versions aside). `held`:
    the run sent nothing (--no-submit), and these shots it held back were not its to finish: they count for the exit
    code no more than the shots --only leaves out."""
    shots, earlier = split_earlier(rows)
    counts = Counter(row.state for row in shots)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    if earlier:
        summary += "; earlier versions followed: " + ", ".join(
            f"{n} {state}" for state, n in sorted(Counter(row.state for row in earlier).items()))
    print(f"batchvid: {summary}; {ledger.spend_line(shots)}; ledger: {out / ledger.FILE_NAME}")
    problems = [row for row in shots if row.state != j.DONE]
    for line in problem_lines(problems):
        print(line)
    for step in next_steps(shots, no_submit=held is not None):
        print(f"  next: {step}")
    if runner is not None:
        for line in (*_reach_lines(runner), *_pace_lines(runner), *_queue_lines(runner),
                     *_money_lines(runner, max_cost)):
            print(f"  {line}")
    if held:
        problems = [row for row in problems if not (row.state == j.PENDING and row.id in held)]
    return 0 if not problems else 1


def _reach_lines(runner: Runner) -> list[str]:
    unreached = {gateway.base_url for gateway in runner.gateways.values()
                 if not gateway.answered and gateway.reach.down_since is not None}
    # the shots ran out of tries before the run's own limit stopped it
    return [f"{base_url} never answered in this run: check the base URL and the network"
            for base_url in sorted(unreached)]


def _pace_lines(runner: Runner) -> list[str]:
    """Where each family's pace settled after 429s, and the pace of a gateway's families together."""
    lines, shared = [], []
    for family, gateway in runner.gateways.items():
        limiter = gateway.limiter
        if limiter.cuts and limiter.rate is not None:
            latest = "" if limiter.drew_429 is None else f", the latest at a pace of {limiter.drew_429:.2f}/s"
            lines.append(f"{family}: the gateway answered 429 {limiter.cuts} time(s){latest}; the rate settled at "
                         f"{limiter.rate:.2f}/s (ceiling {limiter.ceiling:.2f}/s)")
        ceiling = limiter.within
        if ceiling is not None and ceiling.cuts and ceiling.rate is not None and ceiling not in shared:
            shared.append(ceiling)
            lines.append(f"{gateway.base_url}: 429s of several families at once, a limit they share; the pace of all "
                         f"together settled at {ceiling.rate:.2f}/s (--rate {ceiling.limit:.2f}/s)")
    return lines


def _queue_lines(runner: Runner) -> list[str]:
    """The providers' queues found from the polls, and the setting that holds from the first submit."""
    alone = len({shot.spec.family for shot in runner.shots}) == 1  # then its queued tasks kept no other waiting
    return [f"{family}: its tasks queued while {rendering} of them rendered, its provider's limit as it seems: the "
            f"family was kept to {rendering} in flight while other families' shots waited for slots "
            f"(gateway.families.{family}.concurrency: {rendering} in the manifest holds from the first submit)"
            for family, rendering in sorted({} if alone else runner.queues.found.items())]


def _money_lines(runner: Runner, max_cost: object) -> list[str]:
    """Bills above the estimates, tasks given anew after a provider's failure, shots the cap held back."""
    lines = []
    for model, ratio in sorted(runner.budget.bill_ratio.items()):
        if ratio > BILL_RATIO_SAID:
            counted = "; --max-cost counted it" if max_cost is not None else ""
            lines.append(f"{model}: the gateway bills {ratio:.2f}x the estimate (an account's group ratio, or a price "
                         f"above the table's){counted}. Set it in the prices (group_ratio, or a row for the model) and "
                         "estimates will count it too")
    if runner.tries.resubmits:
        tasks, shots_again = sum(runner.tries.resubmits.values()), len(runner.tries.resubmits)
        lines.append(f"{tasks} task(s) of {shots_again} shot(s) failed for the provider's own trouble and got a new "
                     "task each (failed tasks are not charged; --task-retries)")
    if runner.budget.held_back:
        lines.append(f"{runner.budget.held_back} shot(s) not submitted: --max-cost ${max_cost} reached")
    return lines
