"""A PostgreSQL cluster owned by releasegate: the local stack's database and the tests' databases.

Debian's postgresql package provides the binaries; the cluster runs as the ``postgres`` user
(initdb refuses root) with its data in a folder of ours, listening on 127.0.0.1 only, with
password authentication over TCP and, when asked, SSL with a self-signed certificate.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from releasegate.checks.errors import CheckError

if TYPE_CHECKING:  # psycopg is imported on first use: every pytest start-up loads this package
    from psycopg import sql

OWNER = "postgres"


def postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise CheckError(
            "PostgreSQL server binaries not found: install Debian's postgresql package (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresCluster:
    datadir: Path
    port: int
    password: str = "releasegate"
    ssl: bool = False

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        secret = urllib.parse.quote(password or self.password, safe="")
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", OWNER, "--", *args] if os.geteuid() == 0 else list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise CheckError(f"{' '.join(args[:2])} failed for cluster {self.datadir}: {result.stderr.strip()[-500:]}")
        return result

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def init(self) -> None:
        bindir = postgres_bindir()
        _make_reachable(self.datadir)
        pwfile = self.datadir.parent / f".{self.datadir.name}.pw"
        pwfile.write_text(self.password + "\n")
        _chown(pwfile)
        try:
            self._run(
                str(bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                "--auth-local=trust",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.datadir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 100",
        ]
        if self.ssl:
            self._make_certificate()
            settings += ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        with (self.datadir / "postgresql.conf").open("a") as conf:
            conf.write("\n# releasegate\n" + "\n".join(settings) + "\n")

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-new",
                "-x509",
                "-days",
                "30",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-out",
                str(self.datadir / "server.crt"),
                "-keyout",
                str(self.datadir / "server.key"),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        os.chmod(self.datadir / "server.key", 0o600)
        _chown(self.datadir / "server.crt")
        _chown(self.datadir / "server.key")

    def running(self) -> bool:
        result = self._run(str(postgres_bindir() / "pg_ctl"), "status", "-D", str(self.datadir), check=False)
        return result.returncode == 0

    def start(self, timeout_s: float = 60) -> None:
        if not self.initialized():
            self.init()
        if self.running():
            return
        log = self.datadir / "server.log"
        self._run(
            str(postgres_bindir() / "pg_ctl"),
            "start",
            "-D",
            str(self.datadir),
            "-l",
            str(log),
            "-w",
            "-t",
            str(int(timeout_s)),
            timeout=timeout_s + 10,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(postgres_bindir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise CheckError(
            f"PostgreSQL at 127.0.0.1:{self.port} did not accept connections within {timeout_s:g}s; see {log}"
        )

    def stop(self) -> None:
        if self.initialized() and self.running():
            self._run(str(postgres_bindir() / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def psql(self, statement: str | sql.Composable, database: str = "postgres") -> str:
        """Run SQL as the superuser through the local socket; returns unaligned output.

        Build statements that name roles, databases or passwords with ``psycopg.sql`` (Identifier,
        Literal): they are quoted here, not by hand.
        """
        text = statement if isinstance(statement, str) else statement.as_string()
        result = self._run(
            str(postgres_bindir() / "psql"),
            "-h",
            str(self.datadir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            text,
        )
        return result.stdout.strip()

    def create_database(self, name: str, owner: str = "postgres") -> None:
        from psycopg import sql

        exists = self.psql(sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(sql.Literal(name)))
        if not exists:
            self.psql(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))

    def create_role(self, name: str, password: str, *, login: bool = True) -> None:
        from psycopg import sql

        exists = self.psql(sql.SQL("SELECT 1 FROM pg_roles WHERE rolname = {}").format(sql.Literal(name)))
        self.psql(
            sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
                sql.SQL("ALTER" if exists else "CREATE"),
                sql.Identifier(name),
                sql.SQL("LOGIN" if login else "NOLOGIN"),
                sql.Literal(password),
            )
        )

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self.psql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, OWNER, OWNER)


def _make_reachable(datadir: Path) -> None:
    """Create the data folder owned by postgres, and let postgres traverse its parents."""
    datadir.mkdir(parents=True, exist_ok=True)
    _chown(datadir)
    os.chmod(datadir, 0o700)
    if os.geteuid() != 0:
        return
    for parent in datadir.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
        if parent == Path("/"):
            break
