"""Pure, deterministic, prefix-stable prompt compression.

``compress(messages, tools=..., policy=Policy(level=...))`` → :class:`CompressionResult`.
No web, storage, clock or randomness: the same input gives byte-identical output. When
``result.aliases`` is non-empty, run the response stream through
:class:`~opencompress.compression.restore.AliasRestorer` (one per choice and per tool-call index).
``FORMAT_VERSION`` names the compressed form (send it as a response header).
"""

from opencompress.compression.base import (
    FORMAT_VERSION,
    LEVELS,
    CompressionResult,
    Level,
    Message,
    Policy,
    Stage,
    StageContext,
    StageStat,
    TextInfo,
    TextStage,
)
from opencompress.compression.pipeline import compress
from opencompress.compression.policy import describe_config
from opencompress.compression.restore import AliasRestorer

__all__ = [
    "FORMAT_VERSION",
    "LEVELS",
    "AliasRestorer",
    "CompressionResult",
    "Level",
    "Message",
    "Policy",
    "Stage",
    "StageContext",
    "StageStat",
    "TextInfo",
    "TextStage",
    "compress",
    "describe_config",
]
