"""JupyterLab on 127.0.0.1 and Debian's Chromium driven by playwright, for the browser tests.

Locally a missing browser, ``playwright`` or ``jupyterlab`` skips these tests, saying what to
install; with ``CRMFRAMES_BROWSER=required`` (set by ``.ci/run``) it fails them instead.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
REQUIRED = os.environ.get("CRMFRAMES_BROWSER") == "required"
# No downloaded browser here (`playwright install` cannot download): Debian's chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 90.0


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (CRMFRAMES_BROWSER=required) because a tool is missing."""
    hint = "install them with: apt-get install -y chromium && .venv/bin/pip install -e '.[browser]'"
    if REQUIRED:
        pytest.fail(f"CRMFRAMES_BROWSER=required but {reason}; {hint}", pytrace=False)
    pytest.skip(f"browser test: {reason} ({hint})")


def chromium_path() -> str:
    chosen = os.environ.get("CRMFRAMES_CHROMIUM")
    found = chosen or shutil.which("chromium")
    if not found or not Path(found).exists():
        where = f"CRMFRAMES_CHROMIUM={chosen} does not exist" if chosen else "no chromium on PATH"
        unavailable(f"Debian's Chromium is not installed ({where})")
    return str(found)


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its URL, token and the folder it serves."""

    url: str
    token: str
    root: Path

    def notebook_url(self, name: str) -> str:
        # ?reset: ignore a saved workspace, which would reopen earlier tabs
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}; its log: {log}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer {url} in {START_TIMEOUT:.0f} s; its log: {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield  # the page fixture screenshots failed tests
    if call.when == "call":
        item.rep_call = outcome.get_result()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a copy of notebooks/ (runs write nothing into the checkout)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        unavailable("jupyterlab is not installed")
    scratch = tmp_path_factory.mktemp("lab")
    root = scratch / "notebooks"
    shutil.copytree(NOTEBOOKS, root)
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            # hermetic: no user settings, workspaces or runtime files from the machine
            "JUPYTER_CONFIG_DIR": str(scratch / "config"),
            "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "JUPYTER_DATA_DIR": str(scratch / "data"),  # holds the trusted-notebook database
            "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
            "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
            "IPYTHONDIR": str(scratch / "ipython"),
            # the kernels import this checkout's crmframes, whatever is installed
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    settings = {
        # no "get notified about Jupyter news?" toast over the cells
        "apputils-extension/notification": '{"fetchNews": "false"}',
        # every cell fully in the page: off-screen cells are otherwise hidden from locators
        "notebook-extension/tracker": '{"windowingMode": "none"}',
    }
    for name, text in settings.items():
        path = scratch / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # Trusted, as after `jupyter trust notebooks/*.ipynb`: JupyterLab shows an untrusted
    # notebook's saved widgets as plain text, and a saved widget state is only seen if trusted.
    trust = [sys.executable, "-m", "nbformat.sign", *map(str, sorted(root.glob("*.ipynb")))]
    subprocess.run(trust, env=env, check=True, capture_output=True)
    log = scratch / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run cells, read kernel state
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/api/status?token={token}", proc, log)
        yield Lab(url=url, token=token, root=root)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium under playwright."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; when the test fails, a full-page screenshot whose path is printed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shot = Path(tempfile.gettempdir()) / f"crmframes-browser-{request.node.name}.png"
        shot = shot.with_name(re.sub(r"[^\w.-]", "_", shot.name))
        pg.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failure: {shot}")
    context.close()
