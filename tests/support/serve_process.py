"""``opencompress serve`` as a child process, started the way an operator runs it.

The installed console script with settings in environment variables, its terminal output in a log
file. Shared by the reliability tests (shutdown, crash, replicas) and the CLI's first-start test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from support.server import free_port

OPENCOMPRESS = Path(sys.executable).with_name("opencompress")


class GatewayProcess:
    """``opencompress serve`` as a child process with its own port, settings from the environment."""

    def __init__(self, log_dir: Path, *, name: str = "gw", port: int | None = None, **settings: Any) -> None:
        self.port = port or free_port()
        self.name = name
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "OPENCOMPRESS_HOST": "127.0.0.1",
            "OPENCOMPRESS_PORT": str(self.port),
            "OPENCOMPRESS_DEV_MODE": "false",
            "OPENCOMPRESS_CONFIG": str(log_dir / "absent.toml"),
            "OPENCOMPRESS_SECRET_KEY_FILE": str(log_dir / "secret.key"),
        }
        for field, value in settings.items():
            self.env["OPENCOMPRESS_" + field.upper()] = str(value)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self, timeout_s: float = 30.0) -> GatewayProcess:
        return self.launch().wait_ready(timeout_s)

    def launch(self) -> GatewayProcess:
        """Start the process without waiting (start several, then :meth:`wait_ready` each)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(OPENCOMPRESS), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout_s: float = 30.0) -> GatewayProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in {timeout_s}s:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it hangs (a test failure path, never the normal one)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
