"""A corpus of broken manifests: each gives exact one-line errors, exit 1, and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MANIFESTS

HEAD = "version: 1\nshots:\n"
WAN = "  - {id: a, model: wan2.5-t2v-preview, prompt: p"

CORPUS: dict[str, tuple[str | bytes, list[str]]] = {
    "empty": ("", ["m.yaml:1: the manifest is empty; it must be a mapping with `version: 1` and `shots:`"]),
    "list-at-top": ("- a\n- b\n", ["m.yaml:1: the manifest is a list; it must be a mapping with "
                                   "`version: 1` and `shots:`"]),
    "scalar-at-top": ("hello\n", ["m.yaml:1: the manifest is text; it must be a mapping with `version: 1` "
                                  "and `shots:`"]),
    "not-yaml": ("version: 1\nshots: [\n", ["m.yaml:3: not valid YAML: the file ends inside a [ ] or { }: a bracket "
                                           "is never closed"]),
    "extra-comma": (HEAD + "  - {id: a, model: wan2.5-t2v-preview, , prompt: p}\n",
                    ["m.yaml:3: not valid YAML: a value is missing before ',' (an extra comma?)"]),
    "missing-comma": (HEAD + "  - {id: a, model: wan2.5-t2v-preview\n     prompt: p}\n",
                      ["m.yaml:4: not valid YAML: a ',' or the closing '}' is missing before ':'"]),
    "list-item-as-value": (HEAD + "  - id: a\n    prompt: - p\n",
                           ["m.yaml:4: not valid YAML: a '- ' list item where a value goes (put the value in "
                            "quotes, or start the list on its own line)"]),
    "undefined-alias": (HEAD + "  - {id: a, model: *m, prompt: p}\n",
                        ["m.yaml:3: not valid YAML: an alias (*name) with no anchor (&name) before it"]),
    "tab-indent": ("version: 1\nshots:\n\t- id: a\n", ["m.yaml:3: not valid YAML: a tab at column 1: YAML indents "
                                                       "with spaces only"]),
    "tab-inside": (HEAD + "  - id: a\n  \t model: x\n", ["m.yaml:4: not valid YAML: a tab at column 3: YAML indents "
                                                        "with spaces only"]),
    "colon-in-value": (HEAD + "  - id: a\n    prompt: a cat: sitting\n",
                       ["m.yaml:4: not valid YAML: mapping values are not allowed here (a ': ' inside a "
                        "value? put the value in quotes)"]),
    "at-sign-value": (HEAD + "  - id: a\n    prompt: @me\n",
                      ["m.yaml:4: not valid YAML: '@' cannot start a value (put the value in quotes)"]),
    "unclosed-quote": (HEAD + "  - id: a\n    prompt: \"a cat\n    model: x\n",
                       ["m.yaml:4: not valid YAML: a quoted value is never closed"]),
    "binary": (b"version: 1\n\x00\x01\x02", ["m.yaml:2: binary data (a NUL byte); a manifest is UTF-8 text"]),
    "latin1": ("version: 1\n# caf\xe9\n".encode("latin-1"),
               ["m.yaml:2: not UTF-8 text; save the manifest as UTF-8"]),
    "duplicate-key": (HEAD + "  - id: a\n    id: b\n", ["m.yaml:4: duplicate key 'id' (first on line 3)"]),
    "no-version": ("shots:\n" + WAN + "}\n", ["m.yaml:1: missing `version: 1`"]),
    "bad-version": ("version: 2\nshots:\n" + WAN + "}\n", ["m.yaml:1: version must be 1, not 2"]),
    "no-shots": ("version: 1\n", ["m.yaml:1: missing `shots:` (a list of shots)"]),
    "empty-shots": ("version: 1\nshots: []\n", ["m.yaml:2: `shots` must be a non-empty list"]),
    "shot-not-mapping": (HEAD + "  - just a string\n", ["m.yaml:3: shot #1 must be a mapping of fields, not text"]),
    "unknown-top-key": ("version: 1\nshot:\n" + WAN + "}\n",
                        ["m.yaml:1: missing `shots:` (a list of shots)",
                         "m.yaml:2: unknown top-level key 'shot' (did you mean 'shots'?)"]),
    "unknown-field": (HEAD + WAN + ", promt: q}\n",
                      ["m.yaml:3: shot 'a': unknown field 'promt' (did you mean 'prompt'?)"]),
    "unknown-model": (HEAD + "  - {id: a, model: sora-3, prompt: p}\n",
                      ["m.yaml:3: shot 'a': model: unknown model 'sora-3' (did you mean 'sora-2'?); "
                       "see `batchvid models`"]),
    "unknown-field-no-id": (HEAD + WAN + "}\n  - {model: wan2.5-t2v-preview, prompt: p, promt: q}\n",
                            ["m.yaml:4: shot #2: unknown field 'promt' (did you mean 'prompt'?)"]),
    "id-not-text": (HEAD + WAN + "}\n  - {id: [x], model: wan2.5-t2v-preview, prompt: p}\n",
                    ["m.yaml:4: shot #2: id: must be a string"]),
    "prompt-yes": (HEAD + "  - {id: a, model: wan2.5-t2v-preview, prompt: yes}\n",
                   ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): prompt: must be a string; got True (YAML takes an "
                    "unquoted yes, no, on, off, true or false as true/false: put the text in quotes)"]),
    "quoted-numbers": (HEAD + "  - {id: a, model: wan2.5-t2v-preview, prompt: p, duration: '5', seed: '7', "
                       "audio: 'yes', resolution: 720p}\n",
                       ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): duration: must be one of 5, 10; got '5' (write it "
                        "without quotes)",
                        "m.yaml:3: shot 'a' (wan2.5-t2v-preview): audio: must be a boolean; got 'yes' (write it "
                        "without quotes)",
                        "m.yaml:3: shot 'a' (wan2.5-t2v-preview): seed: must be an integer; got '7' (write it without "
                        "quotes)"]),
    "model-shorthand": (HEAD + "  - {id: a, model: veo3.1-fast, prompt: p}\n",
                        ["m.yaml:3: shot 'a': model: unknown model 'veo3.1-fast' (did you mean "
                         "'veo-3.1-fast-generate-preview'?); see `batchvid models`"]),
    "model-shorthand-of-several": (HEAD + "  - {id: a, model: seedance-1.5, prompt: p}\n",
                                   ["m.yaml:3: shot 'a': model: unknown model 'seedance-1.5' (did you mean "
                                    "'doubao-seedance-1-5-pro-251215' or 'doubao-seedance-1-5-pro-251215-noAudio'?); "
                                    "see `batchvid models`"]),
    "no-model": (HEAD + "  - {id: a, prompt: p}\n",
                 ["m.yaml:3: shot 'a': model: is required (set it on the shot or in defaults)"]),
    "no-prompt": (HEAD + "  - {id: a, model: wan2.5-t2v-preview}\n",
                  ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): prompt: is required"]),
    "duplicate-id": (HEAD + WAN + "}\n" + WAN + "}\n",
                     ["m.yaml:4: shot 'a': id: duplicate id (first on line 3)"]),
    "id-with-slash": (HEAD + "  - {id: ../evil, model: wan2.5-t2v-preview, prompt: p}\n",
                      ["m.yaml:3: shot '../evil' (wan2.5-t2v-preview): id: must be 1-120 characters of "
                       "A-Z a-z 0-9 . _ - (it names the output file)"]),
    "id-dotdot": (HEAD + "  - {id: '..', model: wan2.5-t2v-preview, prompt: p}\n",
                  ["m.yaml:3: shot '..' (wan2.5-t2v-preview): id: must be 1-120 characters of "
                   "A-Z a-z 0-9 . _ - (it names the output file)"]),
    "bad-duration": (HEAD + WAN + ", duration: 7}\n",
                     ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): duration: must be one of 5, 10; got 7"]),
    "duration-not-int": (HEAD + WAN + ", duration: five}\n",
                         ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): duration: must be one of 5, 10; got 'five'"]),
    "seed-not-int": (HEAD + WAN + ", seed: 1.5}\n",
                     ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): seed: must be an integer; got 1.5"]),
    "audio-not-bool": (HEAD + WAN + ", audio: maybe}\n",
                       ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): audio: must be a boolean; got 'maybe'"]),
    "unset-env": (HEAD + WAN + ", seed: 1}\n  - {id: b, model: wan2.5-t2v-preview, prompt: '${NOPE_X1}'}\n",
                  ["m.yaml:4: shot 'b': prompt: environment variable NOPE_X1 is not set",
                   "m.yaml:4: shot 'b' (wan2.5-t2v-preview): prompt: must not be empty"]),
    "missing-image": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: nope.png}\n",
                      ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image file 'nope.png' not found"]),
    "image-path-from-windows": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: '.\\m.yaml'}\n",
                                ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image file '.\\\\m.yaml' not "
                                 "found: write it with / (./m.yaml)"]),
    "image-outside": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: ../../etc/passwd}\n",
                      ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image '../../etc/passwd' is outside "
                       "the manifest's folder"]),
    "image-not-image": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: m.yaml}\n",
                        ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: 'm.yaml' is not a PNG, JPEG or "
                         "WebP image"]),
    "model-a-list": (HEAD + "  - {id: a, model: [wan2.5-t2v-preview], prompt: p}\n",
                     ["m.yaml:3: shot 'a': model: must be a model id (text), not a list; see `batchvid models`"]),
    # image data pasted without its data: prefix: no file has such a name (it crashed: "File name too long")
    "image-data-as-a-path": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: " + "iVBORw0K" * 600
                             + "}\n",
                             ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image '" + "iVBORw0K" * 5 + "'"
                              "... (4,800 characters) is no file name: an image's own data goes in a data: URI "
                              "(data:image/png;base64,...)"]),
    "image-name-too-long": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: " + "x" * 300 + ".png}\n",
                            ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image '" + "x" * 300 + ".png' cannot "
                             "be read (File name too long)"]),
    "image-directory": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: .}\n",
                        ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image '.' is not a file"]),
    "seed-a-date": (HEAD + WAN + ", seed: 2020-01-01}\n",  # YAML reads it as a date
                    ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): seed: must be an integer; got the date 2020-01-01"]),
    "matrix-value-a-list-of-dates": (HEAD + WAN + ", matrix: {seed: [[2020-01-01]]}}\n",  # its id suffix crashed
                                     ["m.yaml:3: shot 'a-2020-01-01' (wan2.5-t2v-preview): seed: must be an integer; "
                                      "got ['2020-01-01']"]),
    "matrix-not-list": (HEAD + WAN + ", matrix: {seed: 3}}\n",
                        ["m.yaml:3: shot 'a': matrix: seed must be a non-empty list"]),
    "matrix-too-big": (HEAD + WAN + ", matrix: {seed: [" + ",".join(map(str, range(101))) + "], resolution: ["
                       + ",".join(["480p"] * 100) + "]}}\n",
                       ["m.yaml:3: shot 'a': matrix: makes 10,100 shots; the limit is 10,000 per shot"]),
    "alias-bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
                   ["m.yaml:1: the document expands to more than 200,000 values (an alias bomb?)"]),
    "api-key-in-manifest": ("version: 1\ngateway: {api_key_env: sk-123}\nshots:\n" + WAN + "}\n",
                            ["m.yaml:2: gateway: api_key_env must name an environment variable (the key itself "
                             "never goes in a manifest)"]),
    "bad-base-url": ("version: 1\ngateway: {base_url: llm.example}\nshots:\n" + WAN + "}\n",
                     ["m.yaml:2: gateway: base_url must be an http(s) URL like https://gateway.example, not "
                      "'llm.example'"]),
    "base-url-with-a-space": ("version: 1\ngateway: {base_url: 'https://llm.ex ample'}\nshots:\n" + WAN + "}\n",
                              ["m.yaml:2: gateway: base_url must be an http(s) URL like https://gateway.example, "
                               "not 'https://llm.ex ample'"]),
    "base-url-with-a-password": ("version: 1\ngateway: {base_url: 'https://me:hunter2@llm.example/v1'}\nshots:\n"
                                 + WAN + "}\n",
                                 ["m.yaml:2: gateway: base_url must not hold a user name or password: the API key "
                                  "goes in the environment (BATCHVID_API_KEY, or the variable api_key_env names)"]),
    "unknown-run-key": ("version: 1\nrun: {concurency: 3}\nshots:\n" + WAN + "}\n",
                        ["m.yaml:2: run: unknown key 'concurency' (did you mean 'concurrency'?)"]),
    "defaults-wrong-for-many": ("version: 1\ndefaults: {model: wan2.5-t2v-preview, duration: 7}\nshots:\n"
                                + "".join(f"  - {{id: s{i}, prompt: p}}\n" for i in range(5)),
                                ["m.yaml:2: 5 shots ('s0', 's1', 's2' and 2 more) (wan2.5-t2v-preview): duration: "
                                 "must be one of 5, 10; got 7 (set in defaults)"]),
    "matrix-wrong-for-two": (HEAD + WAN + ", matrix: {seed: [1, 2], duration: [7]}}\n",
                             ["m.yaml:3: shots 'a-1-7', 'a-2-7' (wan2.5-t2v-preview): duration: must be one of 5, "
                              "10; got 7"]),
    "same-missing-file-twice": (HEAD + "  - {id: a, model: viduq3p-mix-720p, prompt: p, reference_images: [gone.png, "
                                "gone.png]}\n",  # one problem of one shot, said once (it read "shots 'a', 'a'")
                                ["m.yaml:3: shot 'a' (viduq3p-mix-720p): reference_images: image file 'gone.png' not "
                                 "found"]),
    # the gateway's pages teach writing markers in the prompt; batchvid writes its own after it: two would leave the
    # provider to choose, and perhaps render (and bill) 12 s at 1080p for an estimate of 5 s at 480p
    "seedance-marker-in-prompt": (HEAD + "  - {id: a, model: doubao-seedance-1-0-pro-250528, prompt: 'a cat --dur 12 "
                                  "--rs 1080p', duration: 5}\n",
                                  ["m.yaml:3: shot 'a' (doubao-seedance-1-0-pro-250528): prompt: holds the marker "
                                   "'--dur 12': set duration on the shot instead (batchvid writes the markers from the "
                                   "shot's fields; a second one could render, and bill, other than the estimate)"]),
    "defaults-typo": ("version: 1\ndefaults: {resolutoin: 720p}\nshots:\n" + WAN + "}\n",
                      ["m.yaml:2: defaults: unknown field 'resolutoin' (did you mean 'resolution'?)"]),
    "huge-file": (b"# " + b"x" * (21 * 1024 * 1024) + b"\n",
                  ["m.yaml:1: manifest is 21 MiB; the limit is 20 MiB"]),
    "megabyte-prompt": (HEAD + "  - {id: a, model: wan2.5-t2v-preview, prompt: " + "w" * 1_000_000 + "}\n",
                        ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): prompt: is 1,000,000 characters; the limit is "
                         "20,000"]),
    "nul-in-id": (HEAD + '  - {id: "a\\0b", model: wan2.5-t2v-preview, prompt: p}\n',
                  ["m.yaml:3: shot 'a\x00b' (wan2.5-t2v-preview): id: must be 1-120 characters of A-Z a-z 0-9 . _ - "
                   "(it names the output file)"]),
    "utf16": ("version: 1\nshots: []\n".encode("utf-16"), ["m.yaml:1: UTF-16 text; save the manifest as UTF-8"]),
    "unknown-family": ("version: 1\ngateway: {families: {kling: {base_url: 'https://x'}}}\nshots:\n" + WAN + "}\n",
                       ["m.yaml:2: gateway.families: unknown family 'kling'"]),
    "family-rate-typo": ("version: 1\ngateway:\n  families:\n    veo: {rate: 10/day, rat: 1}\nshots:\n" + WAN + "}\n",
                         ["m.yaml:4: gateway.families.veo: rate: '10/day': unknown unit 'day' (use /s, /min "
                          "or /h)", "m.yaml:4: gateway.families.veo: unknown key 'rat' (did you mean 'rate'?)"]),
    "gateway-rate": ("version: 1\ngateway: {rate: 5/s}\nshots:\n" + WAN + "}\n",
                     ["m.yaml:2: gateway: rate: the whole gateway's pace is run.rate (or --rate); a family's own "
                      "goes in gateway.families.FAMILY.rate"]),
    "gateway-concurrency": ("version: 1\ngateway: {concurrency: 5}\nshots:\n" + WAN + "}\n",
                            ["m.yaml:2: gateway: concurrency: the whole run's limit of tasks in flight is "
                             "run.concurrency (or --concurrency); a family's own goes in "
                             "gateway.families.FAMILY.concurrency"]),
    "family-concurrency-zero": ("version: 1\ngateway:\n  families:\n    vidu: {concurrency: 0}\nshots:\n" + WAN
                                + "}\n", ["m.yaml:4: gateway.families.vidu: concurrency: '0': want a whole number 1 or "
                                           "more"]),
    "image-too-big": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: big.png}\n",
                      ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image 'big.png' is 6.0 MiB; this model takes "
                       "at most 5 MiB"]),
    "image-symlink-out": (HEAD + "  - {id: a, model: wan2.5-i2v-preview, prompt: p, image: link.png}\n",
                          ["m.yaml:3: shot 'a' (wan2.5-i2v-preview): image: image 'link.png' is outside the "
                           "manifest's folder"]),
    "sora-wrong-frame-size": (HEAD + "  - {id: a, model: sora-2, prompt: p, image: small.png, aspect_ratio: '16:9'}\n",
                              ["m.yaml:3: shot 'a' (sora-2): image: is 720x1280; sora-2 needs exactly 1280x720 for "
                               "aspect_ratio 16:9"]),
    "matrix-twice": (HEAD + WAN + ", matrix: {seed: [1, 2, 1]}}\n",
                     ["m.yaml:3: shot 'a': matrix: seed lists 1 twice"]),
    "matrix-exclude-typo": (HEAD + WAN + ", matrix: {seed: [1, 2], resolution: [480p, 720p], "
                            "exclude: [{resolution: 1080p}]}}\n",
                            ["m.yaml:3: shot 'a': matrix: exclude: '1080p' is not one of the matrix's resolution "
                             "values"]),
    "matrix-exclude-not-an-axis": (HEAD + WAN + ", matrix: {seed: [1, 2], exclude: [{duration: 5}]}}\n",
                                   ["m.yaml:3: shot 'a': matrix: exclude: the matrix does not vary 'duration' (it "
                                    "varies seed)"]),
    "matrix-exclude-everything": (HEAD + WAN + ", matrix: {seed: [1, 2], exclude: [{seed: 1}, {seed: 2}]}}\n",
                                  ["m.yaml:3: shot 'a': matrix: exclude leaves out every combination"]),
    "matrix-exclude-not-a-list": (HEAD + WAN + ", matrix: {seed: [1, 2], exclude: {seed: 1}}}\n",
                                  ["m.yaml:3: shot 'a': matrix: exclude must be a list of combinations to leave "
                                   "out, like [{model: sora-2, duration: 12}]"]),
    "matrix-only-exclude": (HEAD + WAN + ", matrix: {exclude: [{seed: 1}]}}\n",
                            ["m.yaml:3: shot 'a': matrix: must map fields to lists of values"]),
    "matrix-id": (HEAD + WAN + ", matrix: {id: [x, y]}}\n",
                  ["m.yaml:3: shot 'a': matrix: 'id' cannot vary"]),
    "flow-list-prompt": (HEAD + WAN.replace("prompt: p", "prompt: [a, b]") + "}\n",
                         ["m.yaml:3: shot 'a' (wan2.5-t2v-preview): prompt: must be a string; got ['a', 'b']"]),
}


def _setup(name: str, folder: Path) -> None:
    """Files some corpus entries point at."""
    png = (MANIFESTS / "images" / "portrait.png").read_bytes()  # 720x1280
    if name == "image-too-big":
        (folder / "big.png").write_bytes(png + bytes(6 * 1024 * 1024 - len(png)))
    elif name == "image-symlink-out":
        outside = folder.parent / f"{folder.name}-outside.png"
        outside.write_bytes(png)
        (folder / "link.png").symlink_to(outside)
    elif name == "sora-wrong-frame-size":
        (folder / "small.png").write_bytes(png)


def _write(name: str, folder: Path) -> Path:
    text = CORPUS[name][0]
    path = folder / "m.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    _setup(name, folder)
    return path


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_broken_manifest(name: str, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    expected = CORPUS[name][1]
    path = _write(name, tmp_path)
    code, out, err = cli("validate", path)
    lines = out.replace(str(path), "m.yaml").splitlines()
    assert code == 1
    assert lines[:-1] == expected
    shared = {"defaults-wrong-for-many": " (5 counting each shot)", "matrix-wrong-for-two": " (2 counting each shot)"}
    assert lines[-1] == f"{len(expected)} problem(s){shared.get(name, '')}; nothing was sent"
    assert "Traceback" not in out + err


def test_yaml_mistakes_read_the_same_without_libyaml(tmp_path: Path) -> None:
    """PyYAML built without libyaml parses in Python, whose messages are worded otherwise: the user reads the same."""
    syntax = {name: case for name, case in CORPUS.items() if "not valid YAML" in case[1][0]}
    for name, (text, _) in syntax.items():
        (tmp_path / f"{name}.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    script = ("import contextlib, io, json, sys, yaml\n"
              "del yaml.CSafeLoader  # as PyYAML is without libyaml\n"
              "from batchvid.cli import main\n"
              "said = {}\n"
              "for name in sys.argv[1:]:\n"
              "    out = io.StringIO()\n"
              "    with contextlib.redirect_stdout(out):\n"
              "        main(['validate', name + '.yaml'])\n"
              "    said[name] = out.getvalue().splitlines()[:-1]\n"
              "print(json.dumps(said))\n")
    done = subprocess.run([sys.executable, "-c", script, *syntax], cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    said = json.loads(done.stdout)
    assert {name: [line.replace(f"{name}.yaml", "m.yaml") for line in lines] for name, lines in said.items()} == {
        name: expected for name, (_, expected) in syntax.items()}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_run_refuses_a_broken_manifest_and_sends_nothing(name: str, tmp_path: Path, simulator: Callable[..., Any],
                                                          cli: Callable[..., tuple[int, str, str]]) -> None:
    sim = simulator()
    path = _write(name, tmp_path)
    code, out, err = cli("run", path, "--base-url", sim.base_url, "--out", tmp_path / "out")
    assert code == 2 and "Traceback" not in out + err
    assert err.replace(str(path), "m.yaml").splitlines()[: len(CORPUS[name][1])] == CORPUS[name][1]
    assert sim.record.submissions == [] and not (tmp_path / "out").exists()


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


def test_validate_json_gives_each_problem_once_a_shot(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    path = _write("defaults-wrong-for-many", tmp_path)
    code, out, _ = cli("validate", path, "--json")
    data = json.loads(out)
    assert code == 1 and data["valid"] is False and data["shots"] is None
    assert [(p["line"], p["shot"], p["model"], p["field"]) for p in data["problems"]] == [
        (2, f"s{i}", "wan2.5-t2v-preview", "duration") for i in range(5)]
    assert {p["message"] for p in data["problems"]} == {"must be one of 5, 10; got 7 (set in defaults)"}
    path.write_text("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: p}\n")
    assert cli("validate", path, "--json")[:2] == (0, '{\n  "valid": true,\n  "shots": 1,\n  "problems": []\n}\n')


def test_an_environment_variable_that_is_no_utf8_text_is_a_problem_at_its_line(
        tmp_path: Path, cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Python keeps such bytes as half characters, which the journal cannot take: it crashed the run's plan."""
    monkeypatch.setenv("BATCHVID_T_BYTES", "caf\udce9")  # b"caf\xe9": Latin-1, not UTF-8
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "  - {id: a, model: wan2.5-t2v-preview, prompt: 'a ${BATCHVID_T_BYTES}'}\n")
    code, out, _ = cli("validate", path)
    assert code == 1 and out.splitlines()[0] == (f"{path}:3: shot 'a': prompt: environment variable BATCHVID_T_BYTES "
                                                 "holds bytes that are not UTF-8 text"), out


def test_a_folder_given_as_the_manifest_is_named_so(tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("validate", tmp_path)
    assert code == 1 and out.splitlines()[0] == f"{tmp_path}:1: a folder, not a manifest: give its YAML file", out
    code, _, err = cli("estimate", tmp_path)
    assert code == 2 and err.splitlines()[0] == f"{tmp_path}:1: a folder, not a manifest: give its YAML file", err


def test_a_value_the_terminal_cannot_show_is_escaped_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("version: 1\nshots:\n  - {id: a, model: wan2.5-t2v-preview, prompt: 猫, "
                                     "resolution: ７２０p}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "batchvid", "validate", "m.yaml"], cwd=tmp_path, capture_output=True,
                          env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert done.returncode == 1, done.stderr
    assert b"resolution: must be one of 480p, 720p, 1080p; got '\\uff17\\uff12\\uff10p'" in done.stdout
