"""``opencompress serve`` with a cProfile switch: SIGUSR1 starts profiling, SIGUSR2 writes the file.

Profiling only the measured window keeps start-up (imports, tokenizer load, migrations) out of
the per-request figures. The profiler covers the main thread, which runs the event loop.

Run: ``BENCH_PROFILE_OUT=/tmp/gw.prof python bench/_profiled_serve.py serve --port 8123``
"""

from __future__ import annotations

import cProfile
import os
import signal
from types import FrameType

from opencompress.cli import app

profiler = cProfile.Profile()


def _start(signum: int, frame: FrameType | None) -> None:
    profiler.enable()


def _stop(signum: int, frame: FrameType | None) -> None:
    profiler.disable()
    target = os.environ["BENCH_PROFILE_OUT"]
    profiler.dump_stats(target + ".tmp")
    os.replace(target + ".tmp", target)  # the bench polls for the file: never let it see half of it


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
    app()
