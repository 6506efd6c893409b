"""Real servers for tests and benchmarks, started in a temporary folder and removed afterwards.

``postgres_server()`` runs Debian's PostgreSQL (``/usr/lib/postgresql/*/bin``) on a free loopback port:
``initdb`` refuses to run as root, so as root the cluster belongs to an unprivileged user (``nobody``).
Used by the ``postgres`` fixture in ``conftest.py`` and by ``benchmarks/push.py``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

UNPRIVILEGED_USER = "nobody"
# A password with URI-special characters, so every consumer of the connection must quote it right.
DEFAULT_PASSWORD = "p@ss:w/rd%?#é"


class ServerUnavailable(RuntimeError):
    """The server's binaries are not installed (tests skip with this message)."""


@dataclass(frozen=True)
class PostgresServer:
    """Connection parameters of a running PostgreSQL server."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    socket_dir: str
    bin_dir: str

    def airflow_connection(self, **extra: str) -> str:
        """The server as an Airflow connection in JSON (for ``AIRFLOW_CONN_<ID>``)."""
        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": self.port,
                "login": self.user,
                "password": self.password,
                "schema": self.dbname,
                "extra": extra,
            }
        )

    def uri(self) -> str:
        """A libpq URI of the server (with the password: for tests only)."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/"
            f"{quote(self.dbname, safe='')}"
        )

    def psql(self, sql: str, dbname: str | None = None) -> str:
        """Run SQL with the server's own ``psql`` (no Python driver needed); stops on the first error."""
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run(
            [
                os.path.join(self.bin_dir, "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.socket_dir,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname or self.dbname,
                "-At",
                "-c",
                sql,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout


def postgres_bin_dir() -> str:
    """The newest installed PostgreSQL server's bin folder, or ServerUnavailable saying how to install it."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")],
    )
    if candidates:
        return os.path.dirname(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(initdb))
    raise ServerUnavailable(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
        "apt-get install postgresql, as scripts/test.sh does"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(owner: pwd.struct_passwd | None) -> dict:
    """Popen arguments that run a command as ``owner`` (None: as ourselves)."""
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _run(cmd: list[str], owner: pwd.struct_passwd | None, what: str, log: str | None = None) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    out = subprocess.run(
        cmd, env=env, cwd="/", capture_output=True, text=True, check=False, timeout=120, **_as_owner(owner)
    )
    if out.returncode != 0:
        detail = out.stderr.strip() or out.stdout.strip()
        if log and os.path.exists(log):
            with open(log, errors="replace") as handle:
                detail += "\n" + handle.read()[-2000:]
        raise RuntimeError(f"{what} failed ({' '.join(cmd[:2])}): {detail}")


@contextlib.contextmanager
def postgres_server(
    dbname: str = "celonis_test",
    user: str = "celonis",
    password: str = DEFAULT_PASSWORD,
    settings: dict[str, str] | None = None,
) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster on a free loopback port, with ``dbname`` owned by ``user``; removed after."""
    bin_dir = postgres_bin_dir()
    owner = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="celonis-pg-")
    data, sockets, log = os.path.join(root, "data"), os.path.join(root, "sock"), os.path.join(root, "server.log")
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as handle:
        handle.write(password + "\n")
    os.makedirs(sockets)
    if owner is not None:
        for path in (root, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    started = False
    try:
        _run(
            [
                os.path.join(bin_dir, "initdb"),
                "-D",
                data,
                "-U",
                user,
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth=scram-sha-256",
                "--no-sync",
            ],
            owner,
            "initdb",
        )
        os.remove(pwfile)
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": sockets,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            **(settings or {}),
        }
        flags = " ".join(f"-c {key}={value}" for key, value in options.items())
        for attempt in range(5):
            port = free_port()
            try:
                _run(
                    [
                        os.path.join(bin_dir, "pg_ctl"),
                        "-D",
                        data,
                        "-l",
                        log,
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-p {port} {flags}",
                        "start",
                    ],
                    owner,
                    "pg_ctl start",
                    log,
                )
                started = True
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
        server = PostgresServer("127.0.0.1", port, user, password, dbname, sockets, bin_dir)
        server.psql(f'create database "{dbname}" owner "{user}"', dbname="postgres")
        yield server
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run(
                    [os.path.join(bin_dir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], owner, "pg_ctl stop"
                )
        shutil.rmtree(root, ignore_errors=True)
