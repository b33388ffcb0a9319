"""Manifest features: defaults, matrix, ids, ${VAR}, local images, gateway block."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MANIFESTS

from batchvid.problems import ManifestInvalid, Problem
from batchvid.validate import load_batch

Write = Callable[..., Path]


def problems_of(path: Path) -> list[Problem]:
    """What load_batch refuses the manifest for (it must refuse it)."""
    with pytest.raises(ManifestInvalid) as caught:
        load_batch(path)
    return caught.value.problems


def test_defaults_merge_and_a_shot_value_wins(write_manifest: Write) -> None:
    batch = load_batch(write_manifest("""
        version: 1
        defaults: {model: wan2.5-t2v-preview, resolution: 480p, duration: 10, params: {user: a, x: 1}}
        shots:
          - {id: one, prompt: p}
          - {id: two, prompt: p, resolution: 1080p, params: {x: 2}}
    """))
    one, two = batch.shots
    assert (one.resolution, one.seconds, two.resolution, two.seconds) == ("480p", 10, "1080p", 10)
    assert one.fields["params"] == {"user": "a", "x": 1}
    assert two.fields["params"] == {"user": "a", "x": 2}


def test_defaults_that_a_model_does_not_take_are_left_out(write_manifest: Write) -> None:
    batch = load_batch(write_manifest("""
        version: 1
        defaults: {seed: 3, resolution: 720p}
        shots:
          - {id: s, model: sora-2, prompt: p}
          - {id: v, model: viduq3t-540p, prompt: p}
    """))
    assert "seed" not in batch.shots[0].fields
    assert batch.shots[1].resolution == "540p"


def test_matrix_expands_into_stable_derived_ids(write_manifest: Write) -> None:
    batch = load_batch(write_manifest("""
        version: 1
        shots:
          - id: hero
            model: wan2.5-t2v-preview
            prompt: p
            matrix: {resolution: [480p, 1080p], seed: [1, 2]}
    """))
    assert [s.id for s in batch.shots] == ["hero-480p-1", "hero-480p-2", "hero-1080p-1", "hero-1080p-2"]
    assert [(s.resolution, s.fields["seed"]) for s in batch.shots] == [
        ("480p", 1), ("480p", 2), ("1080p", 1), ("1080p", 2)]


def test_matrix_values_of_ones_own_fill_the_shots_strings(write_manifest: Write,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """${matrix.NAME}: a matrix varies words of the prompt (or any string), not only whole fields; `$$` stays a
    literal `$`, and ${VAR} is still the environment's, in the template and in the values alike."""
    monkeypatch.setenv("STUDIO", "Acme")
    batch = load_batch(write_manifest("""
        version: 1
        defaults: {model: wan2.5-t2v-preview}
        shots:
          - id: pet
            prompt: "A ${matrix.animal} in the ${matrix.place}, ${matrix.duration} s, $$9.99 by ${STUDIO}"
            params: {user: "${matrix.animal}-${matrix.place}"}
            matrix:
              animal: [cat, dog]
              place: [garden, "${STUDIO} lot $$1"]
              duration: [5, 10]
              exclude: [{animal: dog, duration: 10}]
          - id: kept
            prompt: "literally $${matrix.animal}, a ${matrix.animal}"
            matrix: {animal: [owl]}
    """))
    shots = {shot.id: shot for shot in batch.shots}
    # ids from the values as written (the same whatever the environment holds)
    assert list(shots) == ["pet-cat-garden-5", "pet-cat-garden-10", "pet-cat-STUDIO_lot_1-5",
                           "pet-cat-STUDIO_lot_1-10", "pet-dog-garden-5", "pet-dog-STUDIO_lot_1-5", "kept-owl"]
    assert shots["pet-cat-STUDIO_lot_1-10"].fields["prompt"] == "A cat in the Acme lot $1, 10 s, $9.99 by Acme"
    assert shots["pet-cat-STUDIO_lot_1-10"].seconds == 10  # a field the matrix varies is still that field
    assert shots["pet-dog-garden-5"].fields["params"] == {"user": "dog-garden"}
    assert "animal" not in shots["pet-dog-garden-5"].fields and "place" not in shots["pet-dog-garden-5"].fields
    assert shots["kept-owl"].fields["prompt"] == "literally ${matrix.animal}, a owl"


def test_a_matrix_value_of_ones_own_must_be_named_and_given(write_manifest: Write) -> None:
    said = problems_of(write_manifest("""
        version: 1
        defaults: {model: wan2.5-t2v-preview, prompt: "A ${matrix.animal}"}
        shots:
          - id: alone
          - {id: typo, matrix: {animals: [cat]}}
          - {id: unused, prompt: plain, matrix: {animal: [cat]}}
          - {id: listed, matrix: {animal: [[cat, dog]]}}
    """))
    assert [(p.line, p.shot, p.field, p.message) for p in said] == [
        (3, "alone", "prompt", "${matrix.animal}: the shot has no matrix"),
        (3, "typo", "prompt", "${matrix.animal}: the matrix has no animal (did you mean 'animals'?)"),
        (7, "unused", "matrix", "'animal' cannot vary; a value of your own goes in the shot as ${matrix.animal}"),
        (8, "listed", "matrix", "animal: a value that goes in ${matrix.animal} must be text or a number"),
    ]


def test_matrix_exclude_leaves_out_combinations_and_renames_nothing(write_manifest: Write) -> None:
    text = """
        version: 1
        shots:
          - id: hero
            matrix:
              model: [sora-2, wan2.5-t2v-preview]
              duration: [4, 5, 8, 10]
              prompt: [a fox, a hare]
%s
    """
    rules = """
              exclude:
                - {model: sora-2, duration: 5}
                - {model: sora-2, duration: 10}
                - {model: sora-2, prompt: a hare}
                - {model: wan2.5-t2v-preview, duration: 4}
                - {model: wan2.5-t2v-preview, duration: 8}"""
    # without the exclusions, each model is asked for durations it does not make
    assert problems_of(write_manifest(text % ""))
    batch = load_batch(write_manifest(text % rules))
    assert [s.id for s in batch.shots] == [
        "hero-sora-2-4-a_fox", "hero-sora-2-8-a_fox",
        "hero-wan2.5-t2v-preview-5-a_fox", "hero-wan2.5-t2v-preview-5-a_hare",
        "hero-wan2.5-t2v-preview-10-a_fox", "hero-wan2.5-t2v-preview-10-a_hare"]
    assert [(s.model, s.seconds) for s in batch.shots][:3] == [("sora-2", 4), ("sora-2", 8), ("wan2.5-t2v-preview", 5)]


def test_an_exclude_rule_names_its_own_line(write_manifest: Write) -> None:
    problems = problems_of(write_manifest("""
        version: 1
        shots:
          - id: hero
            model: wan2.5-t2v-preview
            prompt: p
            matrix:
              seed: [1, 2]
              exclude:
                - {seed: 1}
                - {seed: 3}
    """))
    assert [(p.line, p.message) for p in problems] == [
        (11, "exclude: 3 is not one of the matrix's seed values")]


def test_matrix_values_that_name_alike_get_ids_of_their_own(write_manifest: Write) -> None:
    """Ids are cut at 40 characters a value: prompts that share their first 40 were duplicate ids."""
    same_start = "A slow cinematic shot of a red fox in the snow"
    batch = load_batch(write_manifest(f"""
        version: 1
        shots:
          - id: fox
            model: wan2.5-t2v-preview
            matrix: {{prompt: ["{same_start} at dawn", "{same_start} at dusk", "a b", "a_b"]}}
    """))
    ids = [s.id for s in batch.shots]
    slug = "fox-A_slow_cinematic_shot_of_a_red_fox_in_th"
    # the first keeps the plain id, so a value added later never renames a shot already run
    assert ids[0] == slug and ids[1].startswith(slug + ".") and len(ids[1]) == len(slug) + 7
    assert ids[2:] == ["fox-a_b", ids[3]] and ids[3].startswith("fox-a_b.") and len(set(ids)) == 4
    again = load_batch(write_manifest(f"""
        version: 1
        shots:
          - id: fox
            model: wan2.5-t2v-preview
            matrix: {{prompt: ["{same_start} at dawn", "{same_start} at dusk", "a b", "a_b", "{same_start} at noon"]}}
    """))
    assert [s.id for s in again.shots][:4] == ids  # stable when a value is added


def test_a_matrix_value_listed_twice_is_named(write_manifest: Write) -> None:
    problems = problems_of(write_manifest("""
        version: 1
        shots:
          - id: hero
            model: wan2.5-t2v-preview
            prompt: p
            matrix: {resolution: [480p, 720p, 480p], seed: [1, 2]}
    """))
    assert [p.message for p in problems] == ["resolution lists '480p' twice"]


def test_ids_are_derived_from_content_when_absent(write_manifest: Write) -> None:
    text = """
        version: 1
        defaults: {model: wan2.5-t2v-preview}
        shots:
          - {prompt: first}
          - {prompt: second}
    """
    ids = [s.id for s in load_batch(write_manifest(text)).shots]
    reordered = text.replace("first", "TMP").replace("second", "first").replace("TMP", "second")
    assert sorted(ids) == sorted(s.id for s in load_batch(write_manifest(reordered)).shots)
    assert all(i.startswith("shot-") for i in ids) and len(set(ids)) == 2


def test_env_values_are_substituted_and_dollar_dollar_escapes(write_manifest: Write,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBJECT", "a fox")
    batch = load_batch(write_manifest("""
        version: 1
        shots: [{id: a, model: wan2.5-t2v-preview, prompt: "${SUBJECT} costs $$5"}]
    """))
    assert batch.shots[0].fields["prompt"] == "a fox costs $5"


def test_local_images_become_data_uris(write_manifest: Write, tmp_path: Path) -> None:
    png = (MANIFESTS / "images" / "hero.png").read_bytes()
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(png)
    batch = load_batch(write_manifest("""
        version: 1
        shots: [{id: a, model: wan2.5-i2v-preview, prompt: p, image: img/a.png}]
    """))
    uri = batch.shots[0].fields["image"]
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png


def test_gateway_block_with_family_override(write_manifest: Write) -> None:
    batch = load_batch(write_manifest("""
        version: 1
        gateway:
          base_url: https://gw.example/
          families: {vidu: {base_url: "https://vidu.example", api_key_env: VIDU_KEY}}
        shots: [{id: a, model: wan2.5-t2v-preview, prompt: p}]
    """))
    gw = batch.manifest.gateway
    assert gw.for_family("wan").base_url == "https://gw.example"
    assert gw.for_family("vidu").base_url == "https://vidu.example"
    assert gw.for_family("vidu").api_key_env == "VIDU_KEY"
    assert gw.for_family("wan").api_key_env == "BATCHVID_API_KEY"


@pytest.mark.parametrize("name", sorted(p.name for p in MANIFESTS.glob("*.yaml")))
def test_shipped_manifests_validate(name: str) -> None:
    assert load_batch(MANIFESTS / name).shots


def test_every_problem_is_reported_not_just_the_first(write_manifest: Write) -> None:
    problems = problems_of(write_manifest("""
        version: 1
        shots:
          - {id: a, model: sora-2, prompt: p, duration: 5}
          - {id: b, model: sora-2, prompt: p, seed: 1}
          - {id: c, model: nope, prompt: p}
    """))
    assert len(problems) == 3


def test_ratios_and_times_written_without_quotes_stay_text(write_manifest: Write) -> None:
    # YAML 1.1 reads 16:9 as the base-60 number 969; nobody writing a manifest means that
    batch = load_batch(write_manifest("""
        version: 1
        shots:
          - {id: veo, model: veo-3.1-fast-generate-preview, prompt: p, aspect_ratio: 9:16}
          - {id: sd, model: doubao-seedance-1-0-pro-250528, prompt: 12:30, aspect_ratio: 21:9}
          - id: wan
            model: wan2.5-t2v-preview
            prompt: p
            matrix: {aspect_ratio: [16:9, 4:3, 1:1]}
    """))
    assert [s.fields["aspect_ratio"] for s in batch.shots] == ["9:16", "21:9", "16:9", "4:3", "1:1"]
    assert [s.id for s in batch.shots][2:] == ["wan-16_9", "wan-4_3", "wan-1_1"]
    text = batch.shots[1].request()["metadata"]["content"][0]["text"]
    assert text.startswith("12:30 ") and "--ratio 21:9" in text


def test_a_shots_derived_values_are_computed_once() -> None:
    from batchvid.shot import Shot, once

    calls: list[str] = []

    class Counted(Shot):
        @once
        def label(self) -> str:
            calls.append(self.id)
            return f"{self.id}@{self.model}"

    shot = Counted(id="a", model="sora-2", fields={"duration": 8, "resolution": "720p"}, line=1)
    assert [shot.label, shot.label, shot.seconds, shot.spec.id] == ["a@sora-2", "a@sora-2", 8, "sora-2"]
    assert calls == ["a"] and isinstance(Counted.label, once)
