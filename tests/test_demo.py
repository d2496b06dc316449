"""`crmframes demo`: the import half of the seed workflow, run twice."""

import time

from click.testing import CliRunner

from crmframes.cli import main
from crmframes.demo import run_demo


def test_demo_imports_everything_then_only_what_changed(tmp_path):
    store = tmp_path / "campaign.duckdb"
    first = run_demo(store, scale=0.2, progress=False)
    assert first.result.variables["crmStartImport"] == ""
    assert (
        first.result.stats.rows == first.merged.inserted == 1005
    )  # 1,000 demo contacts + 5 created
    time.sleep(2.1)  # the demo's CRM users act 2 s before its import: let the first window close
    second = run_demo(store, scale=0.2, progress=False)
    assert second.result.variables["crmStartImport"] == first.result.variables["crmEndDate"]
    assert (second.merged.inserted, second.merged.updated) == (5, 25)
    assert second.total == 1010
    text = str(second)
    assert "5 inserted, 25 updated" in text and "API calls" in text


def test_demo_command_prints_the_report(tmp_path):
    result = CliRunner().invoke(
        main, ["demo", "--store", str(tmp_path / "c.duckdb"), "--scale", "0.1", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "imported           505 rows" in result.output
