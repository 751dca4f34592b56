"""Pure, deterministic, prefix-stable prompt compression.

``compress(messages, tools=..., policy=Policy(level=...))`` → :class:`CompressionResult`.
No web, storage, clock or randomness: the same input gives byte-identical output.
"""

from opencompress.compression.base import (
    LEVELS,
    CompressionResult,
    Level,
    Message,
    Policy,
    Stage,
    StageContext,
    StageStat,
)
from opencompress.compression.pipeline import compress

__all__ = [
    "LEVELS",
    "CompressionResult",
    "Level",
    "Message",
    "Policy",
    "Stage",
    "StageContext",
    "StageStat",
    "compress",
]
