import logging
import subprocess
import sys
import textwrap

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")  # no display: charts are checked by their content, never by pixels

import matplotlib.pyplot as plt

from crmframes.dedupe import deduplicate, evaluate_clusters
from crmframes.reconcile import reconcile
from crmframes.runner.execution import StepContext
from crmframes.runner.report import JobReport, StepReport
from crmframes.runner.status import StepStatus, in_notebook
from tests.test_display import REJECTS, export_result, import_result


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def bars(ax):
    """The bars of a horizontal bar chart, top first: {label: value}."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [p.get_width() for p in ax.patches]
    positions = [p.get_y() + p.get_height() / 2 for p in ax.patches]
    ticks = dict(zip(ax.get_yticks(), labels, strict=True))
    return {ticks[min(ticks, key=lambda t, y=y: abs(t - y))]: w for y, w in zip(positions, widths, strict=True)}  # fmt: skip


def test_import_and_export_results_plot_rejects_by_symbol():
    ax = import_result(pd.DataFrame({"Id": ["a"]})).plot()
    assert bars(ax) == {"REQUIRED_FIELD_MISSING": 2.0, "STRING_TOO_LONG": 1.0}
    assert ax.yaxis_inverted()  # the largest count on top, as in the table
    assert ax.get_title() == "rejects of the Contact import" and ax.get_xlabel() == "rows"
    assert [t.get_text() for t in ax.texts] == ["2", "1"]  # each bar is labelled with its value
    export = export_result(pd.DataFrame({"x": [1]}), REJECTS.iloc[1:])
    assert bars(export.plot()) == {"STRING_TOO_LONG": 1.0, "REQUIRED_FIELD_MISSING": 1.0}


def test_plot_draws_on_given_axes_and_passes_options():
    _, given = plt.subplots()
    ax = import_result(pd.DataFrame({"Id": ["a"]})).plot(ax=given, color="red")
    assert ax is given and ax.patches[0].get_facecolor()[:3] == (1.0, 0.0, 0.0)


def test_plot_of_a_result_without_rejects_says_so():
    ax = import_result(pd.DataFrame({"Id": ["a"]}), REJECTS.iloc[:0]).plot()
    assert bars(ax) == {} and "nothing to show" in [t.get_text() for t in ax.texts]


def test_job_report_plots_each_steps_counts():
    report = JobReport("sync", "'dv'", "s.duckdb", False, steps=[
        StepReport(1, "import", "import contact", counts={"imported": 50, "inserted": 40}, rejects={"X": 2}),
        StepReport(2, "export", "export contacts", counts={"rows": 10, "updated": 10}),
    ])  # fmt: skip
    assert bars(report.plot()) == {
        "1 imported": 50.0, "1 inserted": 40.0, "1 rejected": 2.0, "2 rows": 10.0, "2 updated": 10.0
    }  # fmt: skip


def test_dedupe_result_plots_cluster_sizes():
    df = pd.DataFrame({"Email": ["a@x.org", "A@x.org", "b@x.org", "b@x.org", "B@x.org", "c@x.org"]})
    ax = deduplicate(df, on="Email", keep="first").plot()
    assert bars(ax) == {"2 rows": 1.0, "3 rows": 1.0} and ax.get_xlabel() == "clusters"


def test_reconcile_result_plots_differences_per_field():
    left = pd.DataFrame(
        {"Id": ["a", "b"], "City": ["Paris", "Lyon"], "Zip": ["1", "2"], "N": [1, 2]}
    )
    right = pd.DataFrame(
        {"Id": ["a", "b"], "City": ["Nice", "Metz"], "Zip": ["1", "3"], "N": [1, 2]}
    )
    ax = reconcile(left, right, key="Id").plot()
    assert bars(ax) == {"City": 2.0, "Zip": 1.0}  # the fields that never differ are left out
    assert all(float(t.get_text()).is_integer() for t in ax.get_xticklabels())  # whole counts


def test_cluster_scores_plot_precision_recall_and_f1_as_shares():
    found = pd.DataFrame({"clusterId": [0, 0, 0, None]}, dtype="Int64")
    scores = evaluate_clusters(found, truth=[7, 7, None, None])
    ax = scores.plot()
    assert {k: round(v, 3) for k, v in bars(ax).items()} == {
        "precision": 0.333, "recall": 1.0, "F1": 0.5
    }  # fmt: skip
    assert [t.get_text() for t in ax.texts] == ["0.333", "1.000", "0.500"]  # not rounded to 0 / 1
    assert ax.get_xlim() == (0.0, 1.15) and ax.get_xlabel() == "share"
    _, given = plt.subplots()
    assert scores.plot(ax=given, color="red") is given


def test_cluster_scores_show_as_html_with_their_counts():
    found = pd.DataFrame({"clusterId": [0, 0, 0, None]}, dtype="Int64")
    page = evaluate_clusters(found, truth=[7, 7, None, None])._repr_html_()
    assert (
        "<th style='text-align:left'>precision</th><td style='text-align:left'>0.333</td>" in page
    )
    assert "found pairs</th><td style='text-align:left'>3</td>" in page


def test_plot_without_matplotlib_names_the_pip_install_line():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        import pandas as pd
        from crmframes.reconcile import reconcile
        result = reconcile(pd.DataFrame({"Id": ["a"]}), pd.DataFrame({"Id": ["a"]}), key="Id")
        try:
            result.plot()
        except Exception as exc:
            print(type(exc).__name__, exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ConfigError charts need matplotlib: pip install 'crmframes[plot]'"


# --- step lines: logging, stderr in a terminal, an HTML status in a notebook ---------------------


def context(status):
    return StepContext(None, None, False, True, 1, status=status)


def test_step_lines_go_to_logging_and_an_html_status_in_a_notebook(caplog, capsys):
    shown = []
    ctx = context(StepStatus(notebook=True, show=shown.append))
    with caplog.at_level(logging.INFO, logger="crmframes.runner"):
        ctx.say("[1/2] import <contact> ...")
        ctx.say("[1/2] import <contact>: 5 imported (0.10 s)")
    assert capsys.readouterr().err == ""
    assert [r.getMessage() for r in caplog.records if r.name == "crmframes.runner"] == [
        "[1/2] import <contact> ...",
        "[1/2] import <contact>: 5 imported (0.10 s)",
    ]
    html = shown[-1]["text/html"]
    assert len(shown) == 2 and "<contact>" not in html
    assert "[1/2] import &lt;contact&gt; ...<br>[1/2] import &lt;contact&gt;: 5 imported" in html
    assert shown[-1]["text/plain"].splitlines() == [
        "[1/2] import <contact> ...",
        "[1/2] import <contact>: 5 imported (0.10 s)",
    ]


def test_step_lines_go_to_stderr_in_a_terminal_and_nowhere_without_progress(caplog, capsys):
    ctx = context(StepStatus(notebook=False))
    ctx.say("[1/1] import contact ...")
    assert capsys.readouterr().err == "[1/1] import contact ...\n"
    quiet = StepContext(None, None, False, False, 1, status=StepStatus(notebook=True, show=print))
    with caplog.at_level(logging.INFO, logger="crmframes.runner"):
        quiet.say("[1/1] import contact ...")
    assert capsys.readouterr() == ("", "") and len(caplog.records) == 1


def test_a_plain_python_process_is_not_a_notebook():
    assert in_notebook() is False
    assert StepStatus().notebook is None  # detected on each line


def test_status_keeps_the_latest_lines():
    shown = []
    status = StepStatus(notebook=True, show=shown.append)
    for i in range(20):
        status.say(f"line {i}", visible=True)
    html = shown[-1]["text/html"]
    assert html.count("<br>") == 11 and "line 19" in html and "line 8<" in html
    assert "line 7<" not in html and len(status.lines) == 20
