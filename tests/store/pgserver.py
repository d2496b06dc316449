"""Start a throw-away PostgreSQL cluster for tests and benchmarks.

Test helper. ``initdb`` into a temporary folder, then ``pg_ctl start`` listening on
127.0.0.1 at a free port (and a unix socket in that folder). As root the cluster is owned
and run by the ``postgres`` user (PostgreSQL refuses to run as root). Authentication is
``trust`` on loopback: the cluster lives as long as the test session and holds test data only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "ServerUnavailable", "find_binaries", "start_server"]

SUPERUSER = "crm"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL cluster could be started here (binaries missing, or start failed)."""


@dataclass
class PostgresServer:
    """A running throw-away cluster: its URL prefix, folder and owner."""

    port: int
    folder: Path
    bin: Path
    user: str | None  # the OS user running it (None: the current user)

    def url(self, database: str = "postgres", *, role: str = SUPERUSER) -> str:
        """The connection URL of ``database`` as ``role``."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and remove its folder."""
        _run(
            [str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop"],
            self.user,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them off the PATH)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def start_server() -> PostgresServer:
    """Initialise and start a cluster; raise ServerUnavailable when that is impossible."""
    binaries = find_binaries()
    if binaries is None:
        raise ServerUnavailable("no initdb/pg_ctl found (install Debian's postgresql package)")
    user = None
    folder = Path(tempfile.mkdtemp(prefix="crmframes-pg-"))
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServerUnavailable("running as root and there is no 'postgres' user") from exc
        user = "postgres"
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    data = folder / "data"
    _run(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        user,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        user,
    )
    return PostgresServer(port=port, folder=folder, bin=binaries, user=user)


def _run(command: list[str], user: str | None, *, check: bool = True) -> None:
    done = subprocess.run(command, user=user, capture_output=True, text=True, check=False)
    if check and done.returncode:
        raise ServerUnavailable(
            f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def superuser(url, *statements):
    """Run statements on the test database as the cluster's superuser."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url, autocommit=True) as con, con.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        return cursor.fetchall() if cursor.description else None


def as_role(url, role):
    return url.replace("postgresql://crm@", f"postgresql://{role}@")
