"""Prices: every family's unit rule, overrides, group ratio, unknowns, JSON, --max-cost."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import one_shot

from batchvid.estimate import estimate
from batchvid.pricing import builtin_table, frame_size, tokens_per_second

Cli = Callable[..., tuple[int, str, str]]


def cost(tmp_path: Path, model: str, **fields: Any) -> Decimal | None:
    shot, problems = one_shot(tmp_path, model, **fields)
    assert shot is not None, problems
    return estimate([shot], builtin_table()).quotes["s"].cost_usd


@pytest.mark.parametrize(("resolution", "seconds", "usd"), [
    ("480p", 5, "0.1845"), ("720p", 5, "0.369"), ("1080p", 5, "0.6165"),
    ("480p", 10, "0.369"), ("720p", 10, "0.738"), ("1080p", 10, "1.233"),
])
def test_wan_reproduces_the_gateways_table_exactly(tmp_path: Path, resolution: str, seconds: int, usd: str) -> None:
    assert cost(tmp_path, "wan2.5-t2v-preview", resolution=resolution, duration=seconds) == Decimal(usd)


def test_sora_and_veo_are_per_second(tmp_path: Path) -> None:
    assert cost(tmp_path, "sora-2", duration=12) == Decimal("1.20")
    assert cost(tmp_path, "veo-3.1-fast-generate-preview", duration=6) == Decimal("0.90")


def test_seedance_is_priced_by_tokens(tmp_path: Path) -> None:
    assert frame_size("720p", "16:9") == (1280, 720)
    assert tokens_per_second("720p", "16:9", 24) == Decimal(21600)
    # 21,600 tokens/s x 5 s x $2.5 per million = $0.27
    assert cost(tmp_path, "doubao-seedance-1-0-pro-250528", duration=5) == Decimal("0.27")
    # 480p 9:16 is 480x854: 480*854*24/1024 = 9607.5 tokens/s; x 4 s x $1.2 per million
    assert cost(tmp_path, "doubao-seedance-1-5-pro-251215-noAudio", resolution="480p", aspect_ratio="9:16",
                duration=4) == Decimal("9607.5") * 4 * Decimal("1.2") / 1_000_000


def test_vidu_credits_and_offpeak_half(tmp_path: Path) -> None:
    assert cost(tmp_path, "viduq3p-720p", duration=10) == Decimal("1.5")  # 30 credits x $0.005 x 10 s
    assert cost(tmp_path, "viduq3p-720p-offpeak", duration=10) == Decimal("0.75")
    assert cost(tmp_path, "viduq3t-1080p", duration=2) == Decimal("0.104")


def test_unknown_price_is_unknown_never_zero(tmp_path: Path) -> None:
    assert cost(tmp_path, "viduq3p-mix-720p", reference_images=["https://x/a.png"]) is None


MIXED = """
    version: 1
    shots:
      - {id: w, model: wan2.5-t2v-preview, prompt: p, resolution: 720p, duration: 10}
      - {id: m, model: viduq3p-mix-720p, prompt: p, reference_images: ["https://x/a.png"]}
"""


def test_estimate_json_shape(write_manifest: Callable[..., Path], cli: Cli) -> None:
    code, out, _ = cli("estimate", write_manifest(MIXED), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["total_usd"] == "0.7380" and data["complete"] is False and data["unpriced_shots"] == 1
    assert data["shots"][0] == {
        "id": "w", "model": "wan2.5-t2v-preview", "seconds": 10, "resolution": "720p", "unit_usd": "0.0738",
        "cost_usd": "0.7380", "price_source": data["shots"][0]["price_source"],
    }
    assert data["shots"][1]["cost_usd"] is None and data["shots"][1]["unit_usd"] is None
    assert {g["model"]: g["subtotal_usd"] for g in data["groups"]} == {
        "wan2.5-t2v-preview": "0.7380", "viduq3p-mix-720p": None}


def test_json_output_has_a_shot_a_line_and_reads_as_json_dumps_wrote_it(
        write_manifest: Callable[..., Path], cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    """A big batch's --json is read by people too: one shot a line, so `grep ID` finds its whole row."""
    from batchvid.output import print_json

    code, out, _ = cli("estimate", write_manifest(MIXED), "--json")
    data = json.loads(out)
    assert code == 0
    for shot in data["shots"]:
        line = next(line for line in out.splitlines() if f'"id": "{shot["id"]}"' in line)
        assert json.loads(line.strip().rstrip(",")) == shot
    assert out.startswith('{\n  "total_usd": "0.7380",\n') and out.endswith("\n  ]\n}\n")
    # every shape json.dumps takes: nested, empty, keys that are not strings, text that is not ASCII, tuples
    odd = {"a": [1, {"b": [], "c": {}}, [2, [3]]], 1: None, 2.5: True, None: "é猫", "t": ("x", {"y": (1, 2)})}
    print_json(odd)
    shown = capsys.readouterr().out
    assert json.loads(shown) == json.loads(json.dumps(odd)) and "é猫" in shown
    assert shown.splitlines()[:4] == ['{', '  "a": [', '    1,', '    {"b": [], "c": {}},']


def test_estimate_table_says_incomplete(write_manifest: Callable[..., Path], cli: Cli) -> None:
    code, out, _ = cli("estimate", write_manifest(MIXED))
    assert code == 0
    assert "unknown" in out
    assert out.splitlines()[-1] == "total: $0.74 for 2 shots (incomplete: 1 shot(s) have no known price)"


def test_overrides_and_group_ratio(write_manifest: Callable[..., Path], tmp_path: Path, cli: Cli) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "group_ratio: '0.5'\nmodels:\n  viduq3p-mix-720p: {per_second: '0.2', source: contract, as_of: '2026-11-01'}\n"
    )
    code, out, _ = cli("estimate", write_manifest(MIXED), "--prices", prices, "--json")
    data = json.loads(out)
    assert code == 0 and data["complete"] is True
    # (0.738 + 0.2 x 5) x 0.5
    assert Decimal(data["total_usd"]) == Decimal("0.869") and data["group_ratio"] == "0.5"
    # the table shows each model's own unit price; the total line says what makes the subtotals differ from it
    out = cli("estimate", write_manifest(MIXED), "--prices", prices)[1]
    assert out.splitlines()[-1] == ("total: $0.87 for 2 shots; the subtotals include the group ratio 0.5 "
                                    "(prices: group_ratio)")
    assert json.loads(cli("estimate", write_manifest(MIXED), "--json")[1])["group_ratio"] == "1"
    assert "group ratio" not in cli("estimate", write_manifest(MIXED))[1]


def test_a_price_written_with_an_exponent_is_shown_in_plain_digits(write_manifest: Callable[..., Path],
                                                                   cli: Cli) -> None:
    manifest = write_manifest(textwrap.dedent(MIXED) + "prices: {models: {viduq3p-mix-720p: {per_second: '1e1'}}}\n")
    row = next(line for line in cli("estimate", manifest)[1].splitlines() if line.startswith("viduq3p-mix-720p"))
    assert " $10/s " in row and "E+" not in row, row


def test_manifest_prices_block_then_flag_wins(write_manifest: Callable[..., Path], tmp_path: Path, cli: Cli) -> None:
    manifest = write_manifest(textwrap.dedent(MIXED) + "prices: {models: {viduq3p-mix-720p: {per_second: '1'}}}\n")
    data = json.loads(cli("estimate", manifest, "--json")[1])
    assert Decimal(data["total_usd"]) == Decimal("5.738")
    flag = tmp_path / "p.yaml"
    flag.write_text("models: {viduq3p-mix-720p: {per_second: '0'}}\n")
    data = json.loads(cli("estimate", manifest, "--prices", flag, "--json")[1])
    assert Decimal(data["total_usd"]) == Decimal("0.738")


def test_max_cost(write_manifest: Callable[..., Path], cli: Cli) -> None:
    priced = write_manifest("""
        version: 1
        shots: [{id: w, model: wan2.5-t2v-preview, prompt: p, resolution: 1080p, duration: 10}]
    """)
    assert cli("estimate", priced, "--max-cost", "1.233")[0] == 0
    code, _, err = cli("estimate", priced, "--max-cost", "1.23")
    assert code == 2 and err.strip() == "batchvid: error: estimated cost $1.233 exceeds --max-cost $1.23"
    code, _, err = cli("estimate", priced, "--max-cost", "1")
    assert code == 2 and err.strip() == "batchvid: error: estimated cost $1.23 exceeds --max-cost $1"
    mixed = write_manifest(MIXED, name="mixed.yaml")
    code, _, err = cli("estimate", mixed, "--max-cost", "100")
    assert code == 2 and "1 shot(s) have no known price" in err
    assert cli("estimate", mixed, "--max-cost", "100", "--allow-unpriced")[0] == 0


SEEDANCE_PRO = "models: {doubao-seedance-1-0-pro-250528: {per_million_tokens: '2.5', fps: %s}}"
FPS_WANTED = "want a whole number of frames a second, from 1 to 240"


@pytest.mark.parametrize(("table", "said"), [
    ("models: {sora-2: {per_second: cheap}}", "models.sora-2.per_second: 'cheap' is not a number"),
    # past any price: a sum of such figures cannot even be rounded to cents (it was a crash, exit 3)
    ("models: {sora-2: {per_second: '1e99999'}}", "models.sora-2.per_second: '1e99999' is past any price (at most "
     "1,000,000)"),
    ("{group_ratio: '1e99999', models: {}}", "group_ratio: '1e99999' is past any price (at most 1,000,000)"),
    (SEEDANCE_PRO % "abc", f"models.doubao-seedance-1-0-pro-250528.fps: 'abc': {FPS_WANTED}"),  # was a crash
    (SEEDANCE_PRO % "-24", f"models.doubao-seedance-1-0-pro-250528.fps: -24: {FPS_WANTED}"),  # was a negative cost
    (SEEDANCE_PRO % "true", f"models.doubao-seedance-1-0-pro-250528.fps: True: {FPS_WANTED}"),
    ("models: {sora-2: {per_second: true}}", "models.sora-2.per_second: True is not a number"),
    ("models: {sora-2: {per_second: '-0.1'}}", "models.sora-2.per_second: '-0.1' must be a number >= 0"),
    ("models: {sora-2: {per_second: .nan}}", "models.sora-2.per_second: nan must be a number >= 0"),
    ("models: {sora-2: '0.10'}", "models.sora-2: must be a mapping with one of per_second, per_million_tokens, "
     "credits_per_second"),
    ("models: {sora-2: {per_second: '0.1', per_secnd: '0.2'}}", "models.sora-2: unknown key 'per_secnd'; a row takes "
     "as_of, credits_per_second, fps, kind, per_million_tokens, per_second, source, usd_per_credit"),
    ("models: {sora-2: {per_second: '0.1', per_million_tokens: '2'}}", "models.sora-2: needs exactly one of "
     "per_second, per_million_tokens, credits_per_second"),
    ("models: {viduq3p-720p: {credits_per_second: 10}}", "models.viduq3p-720p: credits_per_second needs "
     "usd_per_credit"),
    ("models: {wan2.5-t2v-preview: {per_second: {720p: free}}}",
     "models.wan2.5-t2v-preview.per_second.720p: 'free' is not a number"),
    ("{price: 1, models: {}}", "unknown key 'price' (a price table has models, group_ratio, offpeak_factor)"),
    ("models: [sora-2]", "models must map model ids to price rows"),
    ("- sora-2", "a price file is a mapping with `models:`"),
    ("models: {sora-2: {per_second: [0.1}", None),  # not YAML: the parser's first line
])
def test_bad_price_file_is_one_line(write_manifest: Callable[..., Path], tmp_path: Path, cli: Cli, table: str,
                                    said: str | None) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(table + "\n")
    code, _, err = cli("estimate", write_manifest(MIXED), "--prices", bad)
    assert code == 2 and len(err.splitlines()) == 1, err
    if said is None:
        assert err.startswith(f"batchvid: error: {bad}: not a valid YAML price file ("), err
    else:
        assert err.strip() == f"batchvid: error: {bad}: {said}"


def test_a_price_for_a_model_that_does_not_exist_is_refused(write_manifest: Callable[..., Path], tmp_path: Path,
                                                             cli: Cli) -> None:
    # a mistyped id would leave the built-in price it meant to replace silently in force
    typo = tmp_path / "typo.yaml"
    typo.write_text("models: {wan25-t2v: {per_second: '0.01'}}\n")
    code, _, err = cli("estimate", write_manifest(MIXED), "--prices", typo)
    assert code == 2 and err.strip() == (f"batchvid: error: {typo}: models.wan25-t2v: no such model (did you mean "
                                         "'wan2.5-t2v-preview'?); see `batchvid models`")
    manifest = write_manifest(textwrap.dedent(MIXED) + "prices: {models: {sora2: {per_second: '0.01'}}}\n",
                              name="block.yaml")
    code, _, err = cli("run", manifest, "--simulate", "--out", tmp_path / "out")
    assert code == 2 and "prices: models.sora2: no such model (did you mean 'sora-2'?)" in err
    assert not (tmp_path / "out").exists()
    # `validate` reads the block as a run will, and names its line
    code, out, _ = cli("validate", manifest)
    line = textwrap.dedent(MIXED).count("\n") + 1
    assert code == 1 and out.splitlines()[0] == (f"{manifest}:{line}: prices: models.sora2: no such model (did you "
                                                 "mean 'sora-2'?); see `batchvid models`")


def test_money_adds_unrounded_costs(tmp_path: Path) -> None:
    shots = [one_shot(tmp_path, "wan2.5-t2v-preview", resolution="480p")[0] for _ in range(3)]
    result = estimate([s for s in shots if s], builtin_table())
    assert result.total == Decimal("0.5535")  # 3 x 0.1845, not 3 x 0.18


def test_only_prices_the_chosen_shots_of_a_manifest_validated_whole(write_manifest: Callable[..., Path],
                                                                    cli: Cli) -> None:
    manifest = write_manifest(MIXED)
    code, out, _ = cli("estimate", manifest, "--only", "w")
    assert code == 0 and out.splitlines()[-1] == "total: $0.74 for 1 shot of 2 (--only)"
    code, _, err = cli("estimate", manifest, "--only", "x*")
    assert code == 2 and err.strip() == f"batchvid: error: --only: no shot in {manifest} matches 'x*'"
    data = json.loads(cli("estimate", manifest, "--only", "w", "--max-cost", "1", "--json")[1])
    assert [shot["id"] for shot in data["shots"]] == ["w"] and data["complete"] is True  # m's unknown price left out
    broken = write_manifest(MIXED + "      - {id: bad, model: wan2.5-t2v-preview}\n", name="broken.yaml")
    code, _, err = cli("estimate", broken, "--only", "w")
    assert code == 2 and "shot 'bad'" in err


def test_every_problem_of_a_prices_block_is_said_at_its_own_line(write_manifest: Callable[..., Path], tmp_path: Path,
                                                                 cli: Cli) -> None:
    """As a shot's problems are: all at once, not one fixed after another."""
    manifest = write_manifest(textwrap.dedent(MIXED) + textwrap.dedent("""\
        prices:
          group_ratio: '-1'
          models:
            wan2.5-t2v-preview: {per_second: {720p: free}}
            sora-3: {per_second: '0.1'}
            sora-2: {per_second: '0.1', colour: red}
        """))
    first = len(textwrap.dedent(MIXED).splitlines()) + 1  # the line of `prices:`
    code, out, _ = cli("validate", manifest)
    assert code == 1 and out.splitlines() == [
        f"{manifest}:{first + 1}: prices: group_ratio: '-1' must be a number >= 0",
        f"{manifest}:{first + 3}: prices: models.wan2.5-t2v-preview.per_second.720p: 'free' is not a number",
        f"{manifest}:{first + 4}: prices: models.sora-3: no such model (did you mean 'sora-2'?); see `batchvid models`",
        f"{manifest}:{first + 5}: prices: models.sora-2: unknown key 'colour'; a row takes as_of, credits_per_second, "
        "fps, kind, per_million_tokens, per_second, source, usd_per_credit",
        "4 problem(s); nothing was sent"]
    bad = tmp_path / "bad.yaml"  # a price file's, in the one line of an error
    bad.write_text("group_ratio: x\nmodels: {sora-3: {per_second: 1}, sora-2: {per_second: y}, zz-1: {}, zz-2: {}}\n")
    code, _, err = cli("estimate", write_manifest(MIXED), "--prices", bad)
    assert code == 2 and err.strip() == (
        f"batchvid: error: {bad}: models.sora-3: no such model (did you mean 'sora-2'?); see `batchvid models`; "
        f"{bad}: models.sora-2.per_second: 'y' is not a number; {bad}: models.zz-1: no such model; see `batchvid "
        "models` (and 2 more)")
