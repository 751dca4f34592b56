"""WAL checkpoints off the storage thread.

SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, fsync included,
so that one request (and every request queued behind it on the single storage thread) waits
milliseconds: it was most of the gateway's p99. Here automatic checkpoints are switched off on the
storage connection and a daemon thread with its own connection runs ``PASSIVE`` checkpoints on a
timer; PASSIVE never blocks the writer, it copies what it can and retries on the next tick.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("opencompress.storage")


class WalCheckpointer:
    def __init__(self, path: str, *, interval_s: float = 0.5) -> None:
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="opencompress-sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy or transient: the next tick tries again
                    log.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
