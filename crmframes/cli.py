"""The ``crmframes`` command line: the sandbox today, job files and the demo as they land.

Presentation: a thin click layer. Every crmframes error becomes a one-line message on
stderr and a non-zero exit code; nothing here holds logic the library does not offer.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
import orjson

from crmframes import __version__
from crmframes.errors import ConfigError, CrmframesError
from crmframes.sandbox.server import MAX_CONNECTIONS, REQUEST_TIMEOUT

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_CONFIG = 2


class _Group(click.Group):
    """A click group that turns crmframes errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"crmframes: configuration error: {exc}", err=True)
            ctx.exit(EXIT_CONFIG)
        except CrmframesError as exc:
            click.echo(f"crmframes: {exc}", err=True)
            ctx.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crmframes")
def main() -> None:
    """Keep a campaign database in sync with Salesforce and Dynamics 365, from DataFrames."""


@main.command()
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False),
    default="campaign.duckdb",
    show_default=True,
    help="The campaign store (a DuckDB file); export journals go beside it.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply the demo org's record counts.",
)
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
def demo(store_path: str, scale: float, no_progress: bool) -> None:
    """Sync contacts both ways between the Dynamics 365 sandbox and a campaign store.

    Imports contacts incrementally and merges them, exports the campaign's corrections
    (with rejects and a journal), deletes contacts in the CRM and marks the deletions in
    the store. Run it twice: the second run picks up where the first stopped.
    """
    from crmframes.demo import run_demo

    click.echo(str(run_demo(store_path, scale=scale, progress=not no_progress)))


@main.group()
def sandbox() -> None:
    """Run the built-in CRM sandbox (an emulated org over HTTPS on 127.0.0.1)."""


@sandbox.command("serve")
@click.option(
    "--crm",
    type=click.Choice(["salesforce", "dynamics"]),
    default="salesforce",
    show_default=True,
    help="Which CRM to emulate.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="TCP port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply the demo org's record counts (200 gives 1,000,000 contacts).",
)
@click.option("--empty", is_flag=True, help="Start with no records instead of the demo org.")
@click.option(
    "--automation",
    is_flag=True,
    help="Model org automation: text trimmed, a flow / plug-in formats new records' phones.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Connections served at once; idle keep-alive ones are closed first when all are taken.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=REQUEST_TIMEOUT,
    show_default=True,
    help="Seconds a request's headers and body may take to arrive (slower: 408).",
)
@click.option(
    "--profile",
    type=click.Choice(["local", "production"]),
    default="local",
    show_default=True,
    help="local answers at once; production models a real org's latency, server time and limits.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --profile production: divide every modelled time and window by this factor.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON line (url, ca_file, credentials, env) instead of text.",
)
def serve(
    crm: str,
    port: int,
    scale: float,
    empty: bool,
    automation: bool,
    max_connections: int,
    request_timeout: float,
    profile: str,
    speed: float | None,
    as_json: bool,
) -> None:
    """Serve a sandbox org until interrupted (Ctrl+C or SIGTERM).

    It prints the URL, the CA file to trust and the credentials it accepts. With --json the
    line also carries `env`: the environment variables with which
    SalesforceConnector.from_env() in another process connects to it.
    """
    from crmframes.sandbox import Sandbox

    if speed is not None and profile == "local":
        raise click.UsageError("--speed applies to --profile production; local answers at once")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    with Sandbox(
        crm,  # type: ignore[arg-type]
        data="empty" if empty else "demo",
        scale=scale,
        port=port,
        max_connections=max_connections,
        request_timeout=request_timeout,
        automation=automation,
        profile=profile,  # type: ignore[arg-type]
        speed=speed,
    ) as sb:
        if as_json:
            line = {
                "crm": crm,
                "url": sb.url,
                "ca_file": sb.ca_file,
                "credentials": sb.credentials,
                "env": sb.env(),
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        else:
            creds = sb.credentials
            click.echo(f"crmframes sandbox ({crm}) serving at {sb.url}")
            click.echo(f"  CA file        {sb.ca_file}")
            if sb.profile is not None:
                click.echo(f"  profile        production, speed {sb.profile.speed:g}")
            for name, value in creds.items():
                shown = value if "\n" not in value else "(PEM; see --json)"
                click.echo(f"  {name:<14} {shown}")
            reader = type(sb.settings()).__name__
            click.echo(f"  environment (read by {reader}.from_env() in another process):")
            for name, value in sb.env().items():
                click.echo(f"    export {name}={value}")
            click.echo("Press Ctrl+C to stop.")
        sys.stdout.flush()
        # This process only serves: move the loaded org out of the cyclic collector's sight,
        # so full collections do not walk millions of record dicts while pages are served.
        gc.freeze()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    if not as_json:
        click.echo("sandbox stopped")


@main.command()
@click.argument("job_file", metavar="JOB.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="The accounts file (default: $CRMFRAMES_ACCOUNTS or ~/.config/crmframes/accounts.yaml).",
)
@click.option("--dry-run", is_flag=True, help="Write nothing to the CRM or the store; count only.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--store", "store_path", default=None, help="Use this store file instead of the job's."
)
@click.option("--no-progress", is_flag=True, help="Do not show step lines and progress bars.")
def run(
    job_file: str,
    accounts_file: str | None,
    dry_run: bool,
    as_json: bool,
    store_path: str | None,
    no_progress: bool,
) -> None:
    """Run the steps of a job file against its account and campaign store.

    A job names an account (from the accounts file, or the built-in sandbox) and lists
    steps: import, dedupe, reconcile, export, delete, deleted, merge. The whole job is
    checked before its first step (every table a step reads exists or is written by an
    earlier step), so a mistake costs no CRM call. A step may append its rejects to a
    store table (rejects:) and be retried on a schedule (retry:, this process waits).
    The report gives each step's counts, rejects by errorSymbol, failed attempts, API
    calls and time. Exit codes: 0 done, 1 a step failed, 2 a configuration error (the
    message names the file, line and key).
    """
    from crmframes.runner import run_job

    report = run_job(
        job_file,
        dry_run=dry_run,
        progress=not no_progress,
        accounts=accounts_file,
        store=store_path,
    )
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict()).decode() + "\n")
    else:
        click.echo(str(report))
    if report.exception is not None:
        click.echo(f"crmframes: {report.error}", err=True)
        code = EXIT_CONFIG if isinstance(report.exception, ConfigError) else EXIT_ERROR
        click.get_current_context().exit(code)


@main.command()
@click.argument("account", required=False)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="The accounts file (default: $CRMFRAMES_ACCOUNTS or ~/.config/crmframes/accounts.yaml).",
)
@click.option(
    "--sandbox",
    "sandbox_crm",
    type=click.Choice(["salesforce", "dynamics"]),
    default=None,
    help="Check the built-in sandbox of this CRM instead of an account.",
)
def check(account: str | None, accounts_file: str | None, sandbox_crm: str | None) -> None:
    """Check that ACCOUNT works: log in, read the API limits, read one record.

    ACCOUNT is a name in the accounts file; or pass --sandbox salesforce|dynamics. Prints
    one line per check (✓ or ✗ and what to do next); exit 0 when all pass, else 1.
    """
    from contextlib import AbstractContextManager

    from crmframes.check import check_connection

    if (account is None) == (sandbox_crm is None):
        raise click.UsageError("name an ACCOUNT from the accounts file, or pass --sandbox CRM")
    opener: Callable[[], AbstractContextManager[Connector]]
    if sandbox_crm is not None:
        label = f"the {sandbox_crm} sandbox"
        opener = functools.partial(_sandbox_connection, sandbox_crm)
    else:
        from crmframes.accounts import connect, load_accounts

        label = f"account {account!r}"
        try:
            found = load_accounts(accounts_file).find(str(account))
        except ConfigError as exc:
            click.echo(f"✗ account  {exc}")
            click.get_current_context().exit(EXIT_ERROR)
        opener = functools.partial(connect, found)
    failed = False
    for outcome in check_connection(opener, label=label):
        click.echo(str(outcome))
        failed = failed or not outcome.ok
    click.echo("some checks failed" if failed else "all checks passed")
    if failed:
        click.get_current_context().exit(EXIT_ERROR)


@contextlib.contextmanager
def _sandbox_connection(crm: str) -> Iterator[Connector]:
    from crmframes.sandbox import Sandbox

    with Sandbox(crm) as sb:  # type: ignore[arg-type]
        conn = sb.connector()
        try:
            yield conn
        finally:
            conn.close()


if __name__ == "__main__":  # pragma: no cover
    main()
