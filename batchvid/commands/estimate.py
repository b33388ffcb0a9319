"""batchvid estimate MANIFEST: the batch's price from published prices; no network, no key."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import runsettings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "estimate",
        help="price a batch before running it (dry run, no network)",
        description="Validate a manifest, then price every shot from the published per-second prices "
        "(batchvid/prices.yaml, the manifest's `prices:`, then --prices). Unknown prices are shown as "
        "unknown and make the total incomplete. Exit 2 when over --max-cost.",
    )
    p.add_argument("manifest", type=Path, help="the manifest YAML file")
    add_budget_flags(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--only", action="append", default=[], metavar="IDS", help="price only these shots: ids or "
                   "patterns like 'hero-*', comma-separated, repeatable (the whole manifest is still validated)")


def add_budget_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", type=Path, metavar="FILE", help="YAML price rows that override or add to the table")
    p.add_argument("--max-cost", metavar="USD", help="refuse (exit 2) a batch whose estimate exceeds this; "
                   "during a run, shots that would pass it at the gateway's bills are held back")
    p.add_argument(
        "--allow-unpriced", action="store_true", help="with --max-cost, accept shots whose price is unknown"
    )


def run(args: argparse.Namespace) -> int:
    # imported here: jsonschema and YAML are not needed to start the command line
    from ..estimate import check_budget, estimate, price_table
    from ..output import print_json, table
    from ..pricing import cents
    from ..validate import load_batch, only

    batch = load_batch(args.manifest)
    of_all = len(batch.shots)
    if args.only:
        batch = only(batch, args.only, args.manifest)
    result = estimate(batch.shots, price_table(batch, args.prices))
    if args.json:
        print_json(result.to_json())
    else:
        rows = [
            [g.model, g.resolution, g.shots, g.seconds, g.unit_label, cents(g.subtotal), g.source]
            for g in result.groups
        ]
        print(table(["model", "resolution", "shots", "seconds", "unit price", "subtotal USD", "price source"],
                    rows, right=(2, 3, 5)))
        count = len(batch.shots)
        total = f"total: ${cents(result.total)} for {count} shot{'s' * (count != 1)}"
        if count < of_all:
            total += f" of {of_all} (--only)"
        if not result.complete:
            total += f" (incomplete: {result.unpriced} shot(s) have no known price)"
        if result.group_ratio != 1:  # the unit prices are the table's; the subtotals are what the account pays
            total += f"; the subtotals include the group ratio {result.group_ratio:f} (prices: group_ratio)"
        print(total)
    check_budget(result, runsettings.given(runsettings.MAX_COST, args.max_cost, batch.manifest.run),
                 args.allow_unpriced)
    return 0
