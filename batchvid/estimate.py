"""The price of a whole batch: per shot, per (model, resolution) group, and in total."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import InputError
from .pricing import PriceTable, Quote, builtin_table, load_override, quote
from .shot import Shot
from .validate import Batch


@dataclass
class Group:
    model: str
    resolution: str
    shots: int = 0
    seconds: int = 0
    subtotal: Decimal | None = Decimal(0)
    unit_label: str = ""
    unit_usd: Decimal | None = None
    source: str = ""


@dataclass
class Estimate:
    quotes: dict[str, Quote]
    shots: tuple[Shot, ...]
    groups: list[Group] = field(default_factory=list)
    total: Decimal = Decimal(0)  # of the priced shots
    unpriced: int = 0
    #: the account's ratio that every price was multiplied by (the table's `group_ratio`)
    group_ratio: Decimal = Decimal(1)

    @property
    def complete(self) -> bool:
        return self.unpriced == 0

    def to_json(self) -> dict[str, Any]:
        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "total_usd": str(self.total),
            "complete": self.complete,
            "unpriced_shots": self.unpriced,
            "group_ratio": str(self.group_ratio),
            "groups": [
                {
                    "model": g.model, "resolution": g.resolution, "shots": g.shots, "seconds": g.seconds,
                    "unit_usd": money(g.unit_usd), "subtotal_usd": money(g.subtotal), "price_source": g.source,
                }
                for g in self.groups
            ],
            "shots": [
                {
                    "id": s.id, "model": s.model, "seconds": s.seconds, "resolution": s.resolution,
                    "unit_usd": money(self.quotes[s.id].unit_usd), "cost_usd": money(self.quotes[s.id].cost_usd),
                    "price_source": self.quotes[s.id].source,
                }
                for s in self.shots
            ],
        }


def price_table(batch: Batch, prices_file: Path | None) -> PriceTable:
    """Built-in prices, then the manifest's `prices:`, then --prices (the last word wins)."""
    table = builtin_table()
    if batch.manifest.prices is not None:
        table = table.merged(batch.manifest.prices, f"{batch.manifest.path}:{batch.manifest.prices_line}: prices")
    if prices_file is not None:
        table = table.merged(load_override(prices_file), str(prices_file))
    return table


def estimate(shots: Iterable[Shot], table: PriceTable) -> Estimate:
    shots = tuple(shots)
    result = Estimate(quotes={}, shots=shots, group_ratio=table.group_ratio)
    groups: dict[tuple[str, str], Group] = {}
    for shot in shots:
        q = result.quotes[shot.id] = quote(shot, table)
        group = groups.setdefault((shot.model, shot.resolution), Group(shot.model, shot.resolution))
        group.shots += 1
        group.seconds += shot.seconds
        group.unit_label, group.source = q.unit_label, q.source
        group.unit_usd = q.unit_usd if group.shots == 1 or group.unit_usd == q.unit_usd else None
        if q.cost_usd is None:
            result.unpriced += 1
            group.subtotal = None
        else:
            result.total += q.cost_usd
            if group.subtotal is not None:
                group.subtotal += q.cost_usd
    result.groups = sorted(groups.values(), key=lambda g: (g.model, g.resolution))
    return result


def check_budget(result: Estimate, max_cost: Decimal | None, allow_unpriced: bool) -> None:
    """Refuse (exit 2) a batch over the cap, or one with unpriced shots under a cap."""
    if max_cost is None:
        return
    if result.unpriced and not allow_unpriced:
        raise InputError(
            f"{result.unpriced} shot(s) have no known price, so --max-cost ${max_cost} cannot be "
            "guaranteed; add prices (--prices FILE) or pass --allow-unpriced"
        )
    total = result.total
    if total > max_cost:
        shown = f"{total:.2f}"
        if Decimal(shown) <= max_cost:  # in cents it looks within the cap: say the fraction of a cent too
            shown = f"{total.normalize():f}"
        raise InputError(f"estimated cost ${shown} exceeds --max-cost ${max_cost}")
