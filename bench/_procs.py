"""Server subprocesses for the gateway benchmark, and their CPU/RSS accounting from ``/proc``.

Each server runs in its own process (its own event loop, its own CPU counters), optionally pinned
to a set of cores so "CPU per request" means work done on one core and the load generator does
not compete with the server under test. psutil is not a dependency: ``/proc/<pid>/stat`` gives
utime+stime for the whole thread group, ``/proc/<pid>/task/*/stat`` per thread, and
``/proc/<pid>/status`` the peak resident set (VmHWM).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stat_fields(path: str) -> list[str]:
    """Fields after the ``(comm)`` of a /proc stat file; index 11/12 are utime/stime."""
    with open(path) as handle:
        text = handle.read()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the whole process (all threads) so far."""
    fields = _stat_fields(f"/proc/{pid}/stat")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU per thread id: the event-loop thread's id is ``pid``, the rest are worker threads."""
    out: dict[int, float] = {}
    for entry in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = _stat_fields(f"/proc/{pid}/task/{entry}/stat")
        except OSError:  # the thread ended between listdir and open
            continue
        out[int(entry)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak RSS) and ``VmRSS`` in KiB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                values[name] = int(rest.split()[0])
    return values


def pinning_preexec(cores: Sequence[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child (and every thread it starts) to ``cores``."""
    if not cores:
        return None
    chosen = set(cores)

    def pin() -> None:
        os.sched_setaffinity(0, chosen)

    return pin


@dataclass
class ServerProc:
    name: str
    popen: subprocess.Popen[bytes]
    url: str
    """Root URL, e.g. ``http://127.0.0.1:8123``; the OpenAI base URL is ``url + "/v1"``."""
    log_path: Path
    cores: Sequence[int] | None = None
    signalled: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def threads(self) -> dict[int, float]:
        return thread_cpu_seconds(self.pid)

    def memory(self) -> dict[str, int]:
        return memory_kib(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode} during startup:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def signal_stop(self, sig: int = signal.SIGINT) -> None:
        """Ask for a graceful stop once (a second SIGINT would make uvicorn skip draining)."""
        if self.popen.poll() is None and not self.signalled:
            self.signalled = True
            self.popen.send_signal(sig)

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 20.0) -> int | None:
        """Graceful stop (uvicorn drains in-flight requests on SIGINT); kill if it hangs."""
        self.signal_stop(sig)
        if self.popen.poll() is None:
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    cores: Sequence[int] | None = None,
) -> ServerProc:
    """Start ``argv`` (a server listening on ``port``) with its output in ``workdir/<name>.log``."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            list(argv),
            cwd=workdir,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pinning_preexec(cores),
        )
    return ServerProc(name, popen, f"http://127.0.0.1:{port}", log_path, cores)


def python() -> str:
    return sys.executable


def uvicorn_argv(factory: str, port: int, *, app_dir: str | None = None) -> list[str]:
    """uvicorn with the same defaults ``opencompress serve`` uses (auto loop/http, no access log)."""
    argv = [python(), "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log"]
    if app_dir:
        argv += ["--app-dir", app_dir]
    return argv


def gateway_argv(port: int, *, profiled: bool = False) -> list[str]:
    """``opencompress serve`` from the venv (the console script), or the cProfile-switchable twin."""
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if profiled:
        return [python(), str(Path(__file__).with_name("_profiled_serve.py")), *args]
    script = Path(sys.executable).with_name("opencompress")
    if script.is_file():
        return [str(script), *args]
    return [python(), "-c", "from opencompress.cli import app; app()", *args]  # same entry point
