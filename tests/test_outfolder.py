"""Without --out, a batch goes to out/<name> under the working folder: the same manifest run from another folder
must not start the batch anew and pay for its shots again (outfolder.py)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from batchvid.simulator import Simulator

Run = Callable[..., tuple[int, str, str]]
Sim = Callable[..., Simulator]
FAST = ("--poll-interval", "0.05", "--rate", "unlimited", "--concurrency", "8", "--no-progress")
MANIFEST = """\
    version: 1
    defaults: {model: wan2.5-t2v-preview}
    shots:
      - {id: lake, prompt: a lake at dawn}
      - {id: river, prompt: a river at dusk}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose manifest sits in a folder of its own: project/shots/batch.yaml."""
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "batch.yaml").write_text(textwrap.dedent(MANIFEST), encoding="utf-8")
    return tmp_path


def test_a_batch_run_from_the_projects_root_is_not_begun_again_from_the_manifests_folder(
        simulator: Sim, cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    monkeypatch.chdir(project)
    assert cli("run", "shots/batch.yaml", "--base-url", sim.base_url, *FAST)[0] == 0
    made = len(sim.record.created())
    assert made == 2 and (project / "out" / "batch" / "lake.mp4").is_file()

    monkeypatch.chdir(project / "shots")
    for dry in ((), ("--dry-run",)):
        code, out, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST, *dry)
        assert code == 2 and out == "", err
        assert err.strip() == (
            "batchvid: error: batch.yaml: 2 of its shots were sent, with the same requests, by a run from "
            f"{project}, into {project}/out/batch (2 done); run from here, it would start the batch anew in out/batch "
            f"and pay for them again. Run it from {project}, or give --out {project}/out/batch to go on with that "
            "batch (--out out/batch starts a new one)")
    assert len(sim.record.created()) == made and not (project / "shots" / "out").exists()  # nothing sent or made

    # the way out it names goes on with the batch: nothing to send
    code, _, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST, "--out", project / "out" / "batch")
    assert code == 0 and err.startswith("plan: 2 done") and len(sim.record.created()) == made
    # and --out here starts a new batch, as asked
    code, _, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST, "--out", "out/batch")
    assert code == 0 and err.startswith("plan: 2 new") and len(sim.record.created()) == made + 2


def test_a_rehearsal_run_from_the_manifests_folder_is_not_begun_again_from_the_projects_root(
        cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHVID_API_KEY", raising=False)
    monkeypatch.chdir(project / "shots")
    assert cli("run", "batch.yaml", "--simulate", *FAST)[0] == 0
    monkeypatch.chdir(project)
    code, _, err = cli("run", "shots/batch.yaml", "--simulate", *FAST)
    assert code == 2 and not (project / "out").exists()
    assert err.startswith(f"batchvid: error: shots/batch.yaml: 2 of its shots were sent, with the same requests, by a "
                          f"run from {project}/shots, into {project}/shots/out/batch-simulated (2 done); run from "
                          "here, it would start the batch anew in out/batch-simulated and send them again."), err
    # status, given the manifest, says where that batch is
    code, _, err = cli("status", "shots/batch.yaml", "--simulate")
    assert code == 1 and err.strip() == (
        "batchvid: error: shots/batch.yaml has not been run with --simulate into out/batch-simulated yet; "
        f"{project}/shots/out/batch-simulated, where a run from {project}/shots writes, has a journal: batchvid "
        f"status {project}/shots/out/batch-simulated")


def test_another_batch_of_the_same_name_above_is_no_reason_to_refuse(
        simulator: Sim, cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only shots sent with the same request would be paid twice: an edited manifest's changed shots are new work
    anyway, and another project's batch.yaml is another batch."""
    sim = simulator()
    monkeypatch.chdir(project)
    assert cli("run", "shots/batch.yaml", "--base-url", sim.base_url, *FAST)[0] == 0
    manifest = project / "shots" / "batch.yaml"
    manifest.write_text(manifest.read_text().replace("a lake", "a pond").replace("a river", "a creek"))
    monkeypatch.chdir(project / "shots")
    code, _, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST)
    assert code == 0 and err.startswith("plan: 2 new"), err
    assert (project / "shots" / "out" / "batch" / "lake.mp4").is_file()


def test_an_unreadable_batch_above_is_passed_over(simulator: Sim, cli: Run, project: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    (project / "out" / "batch").mkdir(parents=True)
    (project / "out" / "batch" / "journal.sqlite").write_bytes(b"not a journal at all" * 100)
    monkeypatch.chdir(project / "shots")
    code, _, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST)
    assert code == 0 and err.startswith("plan: 2 new"), err


def test_an_output_folder_named_by_the_manifest_is_the_same_from_anywhere(
        simulator: Sim, cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run.out is beside the manifest: no other folder to look in, and no refusal."""
    sim = simulator()
    manifest = project / "shots" / "batch.yaml"
    manifest.write_text(manifest.read_text() + "run: {out: renders}\n")
    monkeypatch.chdir(project)
    assert cli("run", "shots/batch.yaml", "--base-url", sim.base_url, *FAST)[0] == 0
    monkeypatch.chdir(project / "shots")
    code, _, err = cli("run", "batch.yaml", "--base-url", sim.base_url, *FAST)
    assert code == 0 and err.startswith("plan: 2 done") and len(sim.record.created()) == 2
    assert sorted(os.listdir(project / "shots")) == ["batch.yaml", "renders"]


def test_a_copy_under_another_name_does_not_pay_again_for_the_shots_it_kept(
        simulator: Sim, cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulator()
    monkeypatch.chdir(project)
    assert cli("run", "shots/batch.yaml", "--base-url", sim.base_url, *FAST)[0] == 0
    copy = project / "shots" / "batch-v2.yaml"
    copy.write_text((project / "shots" / "batch.yaml").read_text().replace("a river", "a waterfall"))
    code, _, err = cli("run", copy, "--base-url", sim.base_url, *FAST)
    assert code == 2 and not (project / "out" / "batch-v2").exists() and len(sim.record.created()) == 2
    assert err.strip() == (
        f"batchvid: error: {copy}: 1 of its shots were sent, with the same requests, into {project}/out/batch (1 "
        "done), by a run of a manifest of another name; a run into out/batch-v2 would pay for them again. Give --out "
        f"{project}/out/batch to go on in that batch (its other shots are left as they are), or --out out/batch-v2 to "
        "start a new one anyway")
    code, _, err = cli("run", copy, "--base-url", sim.base_url, *FAST, "--out", project / "out" / "batch")
    assert code == 0 and err.startswith("plan: 1 changed, 1 done") and len(sim.record.created()) == 3, err


def test_a_rehearsal_of_the_same_shots_is_no_reason_to_refuse_the_real_run(
        simulator: Sim, cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """out/batch-simulated sits beside where the real batch goes, with the same shots sent: to the simulator."""
    sim = simulator()
    monkeypatch.chdir(project)
    assert cli("run", "shots/batch.yaml", "--simulate", *FAST)[0] == 0
    code, _, err = cli("run", "shots/batch.yaml", "--base-url", sim.base_url, *FAST)
    assert code == 0 and err.startswith("plan: 2 new"), err
    assert len(sim.record.created()) == 2
