"""Throwaway PostgreSQL and Redis servers for tests, started from the Debian packages on loopback.

Nothing here relies on a system service: each server lives in its own temporary directory, listens
on a free 127.0.0.1 port (PostgreSQL's unix socket also goes into that directory) and is removed
when the context manager exits. The servers can be stopped and started again on the same port,
which is how the outage tests simulate "database down" and "Redis down".

Binaries: PostgreSQL's ``initdb``/``pg_ctl`` are looked up in ``$OPENCOMPRESS_TEST_PG_BIN``, then
next to a ``pg_ctl`` on ``PATH``, then in the newest ``/usr/lib/postgresql/*/bin`` (where Debian
puts them); ``redis-server`` on ``PATH``. When one is missing, :func:`missing_service` skips the
test locally but *fails* it under ``CI=true``, where ``.ci/run`` installs both packages.

PostgreSQL refuses to run as root, so as root the data directory is handed to the ``postgres``
system user (created by the Debian package) and the server commands run through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

PG_SUPERUSER = "opencompress"


class ServiceMissing(RuntimeError):
    """A server binary is not installed on this machine."""


def missing_service(reason: str) -> NoReturn:
    """Skip locally, fail in CI: CI installs the servers, so a missing one there is a real defect."""
    message = f"{reason} (install Debian's postgresql and redis-server; .ci/run does)"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    candidates: list[Path] = []
    if env := os.environ.get("OPENCOMPRESS_TEST_PG_BIN"):
        candidates.append(Path(env))
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class PostgresServer:
    """One ``postgres`` cluster in a temporary directory; ``url(db)`` names a database on it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="occ-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        self._databases = 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return [*prefix, *args]

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def init(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data),
            "-U", PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c max_connections=300",
                "-c shared_buffers=32MB",
                # Throwaway data: no fsync (only an OS crash could lose data). Commits still reach
                # the kernel before returning, so killing the server (stop("immediate")) loses
                # nothing committed — the outage tests rely on that.
                "-c fsync=off",
                "-c full_page_writes=off",
            ]
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )
        _wait_for_port(self.port, 10)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway cluster (about 1–2 s); raises :class:`ServiceMissing` without the binaries."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise ServiceMissing("PostgreSQL server binaries (initdb, pg_ctl) not found")
    server = PostgresServer(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


class RedisServer:
    """One ``redis-server`` without persistence in a temporary directory."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="occ-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--dir", str(self.root), "--logfile", str(self.root / "redis.log")]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not start: {(self.root / 'redis.log').read_text()[-2000:]}"
                )
            time.sleep(0.02)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server (SIGKILL: like a crash; data is not persisted anyway)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing("redis-server not found")
    server = RedisServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


# Session-wide servers, registered for every test directory by tests/conftest.py. One PostgreSQL
# cluster and one redis-server serve the whole run: tests isolate themselves with their own
# database (``create_database``) or key prefix / random key ids. Tests that stop a server start
# their own with the context managers above.


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, for tests that stop it."""
    try:
        with postgres_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    try:
        with redis_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))
