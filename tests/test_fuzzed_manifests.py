"""Seeded random manifests, most of them broken in several ways at once: every one must end in problems said in
lines, or in a plan, never in an unexpected error (exit 3). Such manifests found three crashes that the hand-written
cases had missed: a model that was a list, image data pasted where a file name goes, a date inside a matrix value."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from batchvid.families import MODELS

Run = Callable[..., tuple[int, str, str]]

FIELDS = ["id", "model", "prompt", "duration", "resolution", "aspect_ratio", "image", "last_image", "reference_images",
          "audio", "audio_url", "seed", "watermark", "camera_fixed", "smart_rewrite", "remix_of", "person_generation",
          "fps", "bgm", "params", "matrix", "seconds", "size", "input_reference", "durationSeconds", "aspectRatio",
          "lastFrame", "reference_image_urls", "exclude", "not_a_field"]
SCALARS: list[Any] = [0, 1, -1, 4, 5, 8, 10, 12, 2**63, 10**40, 1e308, float("nan"), float("inf"), -0.0, 3.5, True,
                      False, None, dt.date(2020, 1, 1)]
TEXTS = ["", "720p", "1080p", "480p", "540p", "16:9", "9:16", "adaptive", "x" * 30_000, "${HOME}", "${BATCHVID_NOPE}",
         "$$", "$${matrix.a}", "${matrix.a}", "${matrix.zz}", "a.png", "https://example.com/a.png",
         "data:image/png;base64,AAAA", "data:image/png;base64,", "http://", "file:///etc/passwd", "../x.png",
         "[图1] hi", "--dur 5", "日本語", "\x00", "video_abc", "allow_all", "-1", "1e3", "null", "yes", "16:9:1", "08"]


class Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, depth: int = 0) -> Any:
        kind = self.rng.randrange(4 if depth < 3 else 2)
        if kind == 0:
            return self.rng.choice(SCALARS)
        if kind == 1:
            return self.rng.choice(TEXTS)
        if kind == 2:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        return {self.rng.choice([*FIELDS, "a", "b"]): self.value(depth + 1) for _ in range(self.rng.randint(0, 3))}

    def shot(self) -> dict[str, Any]:
        shot: dict[str, Any] = {}
        if self.rng.random() < 0.9:
            shot["model"] = self.rng.choice([*MODELS, "nope"])
        if self.rng.random() < 0.9:
            shot["prompt"] = self.rng.choice(["a cat", "${matrix.a} cat", "", "x"])
        for name in self.rng.sample(FIELDS, self.rng.randint(0, 6)):
            shot[name] = self.value()
        if self.rng.random() < 0.2:
            axes = ["a", "seed", "duration", "resolution", "model", "prompt", "image", "id"]
            shot["matrix"] = {self.rng.choice(axes): [self.value(2) for _ in range(self.rng.randint(0, 3))]
                              if self.rng.random() < 0.9 else self.value() for _ in range(self.rng.randint(1, 3))}
            if self.rng.random() < 0.3:
                shot["matrix"]["exclude"] = [{self.rng.choice(["a", "seed", "zz"]): self.value(2)}]
        return shot

    def manifest(self) -> dict[str, Any]:
        rng = self.rng
        doc: dict[str, Any] = {}
        if rng.random() < 0.95:
            doc["version"] = rng.choice([1, 1, 1, 2, "1", None])
        if rng.random() < 0.3:
            doc["defaults"] = self.shot() if rng.random() < 0.8 else self.value()
        doc["shots"] = [self.shot() for _ in range(rng.randint(0, 5))] if rng.random() < 0.95 else self.value()
        if rng.random() < 0.15:
            doc["gateway"] = {rng.choice(["base_url", "api_key_env", "families", "x"]): self.value()}
        if rng.random() < 0.15:
            family = rng.choice(["veo", "vidu", "wan", "sora", "x"])
            setting = rng.choice(["base_url", "api_key_env", "rate", "concurrency", "zz"])
            doc["gateway"] = {"families": {family: {setting: self.value()}}}
        if rng.random() < 0.15:
            setting = rng.choice(["out", "concurrency", "rate", "max_cost", "poll_interval", "deadline_minutes",
                                  "task_retries", "download_concurrency", "zz"])
            doc["run"] = {setting: self.value()}
        if rng.random() < 0.1:
            field = rng.choice(["per_second", "source", "as_of", "kind", "per_million_tokens", "usd_per_credit", "fps"])
            doc["prices"] = {"models": {rng.choice(list(MODELS)): {field: self.value()}}, "group_ratio": self.value()}
        return doc


@pytest.mark.parametrize("seed", range(4))
def test_a_random_manifest_never_crashes_validate_estimate_or_a_dry_run(
        seed: int, cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where a crash report would go
    (tmp_path / "a.png").write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4"
                                                   "890000000d4944415478da63f8ffff3f0005fe02fea7d6a9b10000000049454e44"
                                                   "ae426082"))
    maker = Maker(seed)
    for index in range(50):
        text = yaml.safe_dump(maker.manifest(), allow_unicode=True)
        (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
        for command in (["validate", "m.yaml"], ["estimate", "m.yaml"],
                        ["run", "m.yaml", "--simulate", "--dry-run", "--out", "out"]):
            code, out, err = cli(*command)
            assert code in (0, 1, 2) and "unexpected error" not in err, f"manifest {index}, {command[0]}:\n{text}"
