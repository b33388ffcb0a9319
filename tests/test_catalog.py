"""The registry is the one source: schemas, families, catalog and prices agree."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import MANIFESTS

import batchvid
from batchvid import catalog, schemagen
from batchvid.families import FAMILIES, MODELS
from batchvid.pricing import builtin_table

DOCUMENTED = {
    "sora-2",
    "veo-3.0-fast-generate-001", "veo-3.1-fast-generate-preview",
    "wan2.5-t2v-preview", "wan2.5-i2v-preview",
    "doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428",
    "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-5-pro-251215",
    "doubao-seedance-1-5-pro-251215-noAudio",
    *(f"{tier}-{res}{suffix}" for tier in ("viduq3p", "viduq3t") for res in ("540p", "720p", "1080p")
      for suffix in ("", "-offpeak")),
    "viduq3p-mix-720p",
}
# No public price was found for these; they must be estimated as unknown, never as $0.
UNPRICED = {"viduq3p-mix-720p"}


def test_every_documented_model_is_known_and_nothing_else() -> None:
    assert set(MODELS) == DOCUMENTED


def test_every_model_belongs_to_exactly_one_family() -> None:
    owners = [spec.id for family in FAMILIES.values() for spec in family.models]
    assert len(owners) == len(set(owners))
    for spec in MODELS.values():
        assert spec.family in FAMILIES


def test_shipped_schema_files_are_exactly_what_the_registry_generates() -> None:
    shipped = catalog.schema_files()
    generated = schemagen.all_schemas()
    assert set(shipped) == set(generated), "run: python -m batchvid.schemagen"
    for name, schema in generated.items():
        assert shipped[name] == json.loads(schemagen.render(schema)), f"{name} is stale"


def test_one_schema_per_model_and_each_names_its_model() -> None:
    files = catalog.schema_files()
    model_files = {name.removesuffix(".json") for name in files if not name.startswith(("_", "manifest"))}
    assert model_files == set(MODELS)
    for model in MODELS:
        assert files[f"{model}.json"]["properties"]["model"]["const"] == model


def test_every_property_has_a_description_for_editors() -> None:
    for model in MODELS:
        for name, prop in catalog.schema(model)["properties"].items():
            if prop is not False:
                assert "description" in prop or "$ref" in prop, (model, name)


def test_manifest_schema_lists_every_model() -> None:
    enum = catalog.schema("manifest")["properties"]["shots"]["items"]["properties"]["model"]["enum"]
    assert set(enum) == set(MODELS)


def test_every_model_has_a_price_row_or_is_known_to_be_unpriced() -> None:
    rows = builtin_table().rows
    for model in MODELS:
        base = model.removesuffix("-offpeak")
        assert (base in rows) != (model in UNPRICED), model
    assert set(rows) <= set(MODELS)


def test_schemas_come_from_the_installed_package_when_installed() -> None:
    """CI installs batchvid non-editable: the schemas must then be read from the wheel's package data."""
    package_dir = Path(batchvid.__file__).resolve().parent
    folder = catalog.schema_folder()
    one = Path(str(folder.joinpath("sora-2.json")))
    if "site-packages" in package_dir.parts:
        assert one.parent == package_dir / "schemas"
    assert len([entry for entry in folder.iterdir() if entry.name.endswith(".json")]) == len(MODELS) + 2


def test_schema_of_a_model_that_does_not_exist_names_the_ones_meant(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("schema", "veo3.1")
    assert (code, out) == (2, "")
    assert err.strip() == ("batchvid: error: no schema for 'veo3.1' (did you mean 'veo-3.1-fast-generate-preview'?); "
                           "see `batchvid models`")


@pytest.mark.parametrize("name", sorted(p.name for p in MANIFESTS.glob("*.yaml")))
def test_the_editor_schema_takes_every_shipped_manifest(name: str) -> None:
    """What an editor checks as the user types must not underline an example that batchvid accepts."""
    document = yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))
    assert [error.message for error in catalog.validator("manifest").iter_errors(document)] == []


def test_models_lists_every_model_with_what_it_takes(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("models")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert code == 0 and set(rows) == DOCUMENTED
    assert rows["wan2.5-t2v-preview"] == ["wan", "text-to-video", "5/10", "480p/720p/1080p", "optional"]
    assert rows["doubao-seedance-1-5-pro-251215"][-3:] == ["4-12", "480p/720p", "always"]  # whole seconds: a range
    code, out, _ = cli("models", "--json")
    described = {entry["id"]: entry for entry in json.loads(out)}
    assert code == 0 and set(described) == DOCUMENTED
    assert described["sora-2"]["durations"] == [4, 8, 12] and described["sora-2"]["family"] == "sora"


def test_validate_sums_up_a_valid_manifest(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("validate", MANIFESTS / "demo.yaml")
    assert (code, err) == (0, "")
    assert out == f"{MANIFESTS / 'demo.yaml'}: valid: 9 shots, 8 models, 48 seconds of video\n"
