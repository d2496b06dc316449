"""Progress bars: tqdm in a terminal, one HTML bar ending as a summary in a notebook, and
counts for listeners (a form's own bar)."""

from __future__ import annotations

import pandas as pd
import pytest

from crmframes import export_to_crm, import_from_crm, progress
from crmframes.progress import Bar, Progress, watching


class FakeDisplay:
    """IPython's display with a display id: what a notebook would show, in order."""

    def __init__(self) -> None:
        self.shown: list[dict[str, str]] = []

    def __call__(self, data, *, raw, display_id):
        assert raw and display_id
        self.shown.append(data)
        return self

    def update(self, data, *, raw):
        assert raw
        self.shown.append(data)


@pytest.fixture
def notebook(monkeypatch):
    import IPython.display

    fake = FakeDisplay()
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake)
    return fake


def test_a_terminal_shows_a_tqdm_bar_on_stderr(capsys):
    with Bar("import Contact", total=4, unit="rec", show=True) as bar:
        bar.update(4)
    err = capsys.readouterr().err
    assert "import Contact" in err and "4/4" in err


def test_a_notebook_bar_moves_then_ends_as_a_summary_line_without_timing(notebook, monkeypatch):
    monkeypatch.setattr(progress, "_EVERY", 0.0)  # draw every step
    with Bar("insert contact", total=1200, unit="rows", show=True) as bar:
        bar.update(200)
        bar.update(1000)
    first, middle, last = notebook.shown[0], notebook.shown[1], notebook.shown[-1]
    assert first["text/plain"] == "insert contact: 0/1,200 rows"
    assert "<progress value='0' max='1200'" in first["text/html"]
    assert middle["text/plain"] == "insert contact: 200/1,200 rows"
    assert last["text/plain"] == "insert contact: 1,200 rows ✓"
    assert "<progress" not in last["text/html"] and "1,200 rows ✓" in last["text/html"]


def test_a_bar_stopped_early_says_where_it_stopped(notebook):
    bar = Bar("delete Contact", total=10, unit="rows", show=True)
    bar.update(4)
    bar.close()
    bar.close()  # once only
    assert notebook.shown[-1]["text/plain"] == "delete Contact: 4/10 rows"
    assert len([s for s in notebook.shown if "✓" in s["text/plain"]]) == 0


def test_listeners_hear_every_bar_and_quiet_hides_the_bar(capsys):
    heard: list[Progress] = []
    with (
        watching(heard.append, quiet=True),
        Bar("import contact", total=None, unit="rec", show=True) as bar,
    ):
        bar.update(3)
    assert capsys.readouterr().err == ""  # quiet: the listener shows it instead
    assert heard[0] == Progress("import contact", 0, None, "rec")
    assert heard[-1] == Progress("import contact", 3, None, "rec", finished=True)
    assert heard[-1].text() == "import contact: 3 rec ✓"
    assert not progress.listening()


def test_an_import_of_several_pages_reports_its_counts_to_a_listener(sandbox):
    conn = sandbox.connector()
    conn.bulk_page_size = 100
    conn.bulk_read_parallel = 1  # the locator chain, pages of 100 (not Salesforce's pages)
    heard: list[Progress] = []
    with watching(heard.append, quiet=True):
        result = import_from_crm(conn, "Contact", fields=["LastName"], mode="bulk")
    assert result.stats.pages > 1
    assert heard[-1].finished and heard[-1].done == result.stats.rows
    assert heard[-1].total == result.stats.rows
    assert [p.done for p in heard] == sorted(p.done for p in heard)


def test_an_export_reports_rows_sent_even_with_progress_off(sandbox):
    heard: list[Progress] = []
    frame = pd.DataFrame({"LastName": [f"Bar {n}" for n in range(450)]})
    with watching(heard.append):
        result = export_to_crm(
            sandbox.connector(), "Contact", frame, batch_size=200, progress=False, journal=False
        )
    assert result.stats.created == 450
    assert heard[-1] == Progress("insert Contact", 450, 450, "rows", finished=True)
