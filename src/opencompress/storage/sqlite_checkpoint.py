"""WAL checkpoints off the request path, and a WAL that stays bounded under sustained load.

SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, fsync included,
so that one request (and every request queued behind it) waits milliseconds: it was most of the
gateway's p99. Here automatic checkpoints are switched off on the storage's connections and a
daemon thread with its own connection checkpoints on a timer.

``PASSIVE`` never blocks a writer, but on its own it never lets the WAL shrink under steady
traffic: the log only starts over from its beginning when a writer finds *every* frame already
copied back, and with commits arriving every few hundred µs some always landed during the copy.
The WAL then grew by every commit's pages for as long as load lasted (1.4 GB over 20k gateway
requests), so each commit extended the file (block allocation, ~2x the cost of overwriting) and
disk use had no bound. So once a PASSIVE pass leaves more than :data:`RESTART_BYTES` in the log,
a ``RESTART`` checkpoint follows at once: the PASSIVE pass already copied nearly everything, so
RESTART only copies what arrived since and syncs, holding the write lock for about that long;
then the next commit overwrites the log from its start. Writers that meet the lock meanwhile wait
(the worker connection) or are sent to the worker (the event loop's, see ``sqlite.py``);
:data:`RESTART_WAIT_MS` bounds how long a RESTART may keep them out while waiting for readers.

Why once a second: a checkpoint's page copying is CPU work next to the event loop (on one core
it is the same core), so a request that arrives while one runs waits for it. The total work
hardly depends on the interval, but the share of requests that meet one does: at 0.2 s the
gateway's c=1 p99 was 2.8 ms, at 1 s 1.5 ms (``bench/gateway.py``, relay 0.9 ms). Under load the
log then grows by up to a second of commits (~40 MiB at 1,800 requests/s) before a RESTART.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("opencompress.storage")

RESTART_BYTES = 4 * 1024 * 1024
"""A log larger than this after a PASSIVE pass is restarted (a few hundred requests' pages)."""
RESTART_WAIT_MS = 50
"""The checkpointer's busy timeout: how long a RESTART waits for readers (holding writers out)."""


class WalCheckpointer:
    def __init__(self, path: str, *, interval_s: float = 1.0, restart_bytes: int = RESTART_BYTES) -> None:
        self._path = path
        self._interval = interval_s
        self._restart_bytes = restart_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="opencompress-sqlite-checkpoint", daemon=True)
        self.restarts = 0
        """RESTART checkpoints that completed (the log started over afterwards)."""

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            while not self._stop.wait(self._interval):
                self.checkpoint(conn, page_size)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection, page_size: int) -> None:
        try:
            _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames * page_size > self._restart_bytes:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if not busy:
                    self.restarts += 1
        except sqlite3.Error:  # busy or transient: the next tick tries again
            log.debug("WAL checkpoint skipped", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
