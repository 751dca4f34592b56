"""OpenAI-compatible upstream simulator: a real HTTP server on loopback, not a mock.

Used by ``opencompress serve`` when no upstream is configured and by the test suite as the
gateway's upstream. It answers chat completions deterministically in OpenAI's exact wire format,
replays real-provider recordings byte for byte and injects faults on request (the ``simulate``
body field, or ``POST /_sim/fault``); the field's contract is in :mod:`opencompress.simulator.faults`.
"""

from opencompress.simulator.app import create_app, get_state
from opencompress.simulator.faults import FAULTS, SimulateSpec
from opencompress.simulator.replay import default_recordings_dir, list_recordings
from opencompress.simulator.runner import RunningSimulator, SimulatorThread, start_in_loop
from opencompress.simulator.state import SimState, key_fingerprint

__all__ = [
    "FAULTS",
    "RunningSimulator",
    "SimState",
    "SimulateSpec",
    "SimulatorThread",
    "create_app",
    "default_recordings_dir",
    "get_state",
    "key_fingerprint",
    "list_recordings",
    "start_in_loop",
]
