"""The shipped job files run as they are, with `crmframes run`, twice in the same folder."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmframes.cli import main
from crmframes.demo import SEED_WORKFLOW, load_seed_workflow, run_demo
from crmframes.runner.jobs import load_job

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_the_example_job_is_the_demos_job_file():
    # the seed workflow exists once: `crmframes demo` runs the bundled file, the example is
    # a copy kept identical (byte for byte, comments included)
    bundled = ROOT / "crmframes" / SEED_WORKFLOW
    assert (EXAMPLES / "seed_workflow.yaml").read_bytes() == bundled.read_bytes()
    assert load_seed_workflow() == load_job(EXAMPLES / "seed_workflow.yaml")


def test_seed_workflow_runs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # the job's store is relative to the working folder
    job = str(EXAMPLES / "seed_workflow.yaml")
    dry = CliRunner().invoke(main, ["run", job, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert not (tmp_path / "seed_workflow.duckdb").exists()  # a dry run creates nothing
    reports = []
    for _ in range(2):
        result = CliRunner().invoke(main, ["run", job, "--json"])
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    first, second = ([s["kind"] for s in r["steps"]] for r in reports)
    assert first == second == ["import", "dedupe", "delete", "reconcile", "export", "deleted"]
    assert all(s["status"] == "ok" for r in reports for s in r["steps"])
    assert "client_secret" not in json.dumps(reports)
    assert sorted(p.name for p in tmp_path.glob("*.duckdb")) == ["seed_workflow.duckdb"]


def test_seed_workflow_never_shares_the_demos_store():
    # run after `crmframes demo` in the same folder, the job would read the demo's
    # watermarks and tell another story: it keeps its own store file
    demo_store = inspect.signature(run_demo).parameters["store_path"].default
    job = load_job(EXAMPLES / "seed_workflow.yaml")
    assert Path(str(job.store)).name != Path(demo_store).name
