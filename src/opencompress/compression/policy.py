"""Which stages run at which level, on which content classes and roles, with which budgets.

Three phases, because prefix stability allows three kinds of work (see ``pipeline``):

* **text** stages are pure functions of one text (whitespace, JSON, log folding, comments, prose
  pruning): they may run on every message, frozen or not, and are cached per text;
* **history** stages walk the conversation in order and only look backwards (duplicate folding,
  aliasing): a message's result depends on it and the messages before it, never on later ones;
* **turn** stages are question-aware (document selection, few-shot budget): they only touch the
  current turn, i.e. messages after the last assistant message.

Only re-encoding stages (:data:`LOSSLESS_TEXT`, the history stages) run on earlier assistant turns,
and only those and ``terminal`` (:data:`SMALL_OK`) on texts below the size threshold; lossy ones
need a text of at least ``small_tokens`` (estimated as characters / 4: the hot path never
tokenizes whole messages).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from typing import Any

from opencompress.compression.base import (
    FORMAT_VERSION,
    LEVELS,
    Level,
    Message,
    Policy,
    Stage,
    StageContext,
    TextInfo,
    TextStage,
)
from opencompress.compression.classify import KINDS, Kind
from opencompress.compression.stages.aliases import Aliases
from opencompress.compression.stages.code import CodeComments
from opencompress.compression.stages.dedup import Dedup
from opencompress.compression.stages.documents import DocumentSelection
from opencompress.compression.stages.fewshot import FewShotBudget
from opencompress.compression.stages.json_minify import JsonEmbedded, JsonMinify
from opencompress.compression.stages.json_table import JsonTable
from opencompress.compression.stages.logs import LogFold
from opencompress.compression.stages.prose import ProsePruning
from opencompress.compression.stages.terminal import Terminal
from opencompress.compression.stages.whitespace import Whitespace

CHARS_PER_TOKEN = 4
LOSSLESS_TEXT = frozenset({"whitespace", "json_minify", "json_embedded"})
ASSISTANT_OK = LOSSLESS_TEXT
"""Earlier assistant turns are the model's own words: re-encoding only, never rewritten."""
SMALL_OK = LOSSLESS_TEXT | {"terminal"}
"""Stages that also run on texts below the size threshold: re-encoding, and dropping terminal
control codes, which change nothing a reader sees (a short coloured tool output is still mostly
colour codes). ``terminal`` is not in the lossless level: it changes bytes, not the display."""

TEXT_ORDER = (
    "terminal",
    "json_minify",
    "json_table",
    "json_embedded",
    "whitespace",
    "log_fold",
    "code_comments",
    "prose_prune",
)
HISTORY_ORDER = ("dedup", "dedup_blocks", "aliases")
TURN_ORDER = ("documents", "fewshot")

_TEXTY: frozenset[Kind] = frozenset({"prose", "documents", "fewshot", "log"})
STAGE_KINDS: dict[str, frozenset[Kind]] = {
    "terminal": _TEXTY | {"diff"},
    "json_minify": frozenset({"json"}),
    "json_table": frozenset({"json"}),
    "json_embedded": _TEXTY | {"code"},
    "whitespace": _TEXTY,
    "log_fold": frozenset({"log", "prose", "documents"}),
    "code_comments": frozenset({"code", "prose", "documents", "log"}),
    "prose_prune": frozenset({"prose", "documents"}),
    "dedup": frozenset(KINDS) - {"empty"},
    "dedup_blocks": frozenset({"prose", "documents", "fewshot", "log", "code", "diff"}),
    "aliases": frozenset({"prose", "documents", "fewshot", "log", "code", "diff"}),
    "documents": frozenset({"documents", "prose", "json"}),
    "fewshot": frozenset({"fewshot", "prose"}),
}
"""Content classes each stage applies to (the stage re-checks internally; this is the contract
published by :func:`describe_config`). ``code_comments`` on prose means fenced code blocks in it.
``terminal`` leaves code and JSON alone: a source file may hold raw escape bytes that an edit must
match, and a JSON document cannot hold them unescaped. A coloured diff is a diff once its colours are
looked through (``classify`` does), and its colours go."""

HISTORY_ROLES = frozenset({"system", "developer", "user", "tool", "function"})


@dataclass(frozen=True, kw_only=True)
class LevelConfig:
    level: Level
    text: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    turn: tuple[str, ...] = ()
    small_tokens: int = 200
    documents_keep: float = 0.45
    fewshot_keep: float = 0.45
    prose_max_drop: float = 0.2
    log_min_run: int = 6

    @property
    def small_chars(self) -> int:
        return self.small_tokens * CHARS_PER_TOKEN

    @cached_property
    def key(self) -> str:
        """Stable identity of this configuration for cache keys (includes the format version)."""
        return f"{FORMAT_VERSION}|{sorted(asdict(self).items())}"


CONFIGS: dict[Level, LevelConfig] = {
    "off": LevelConfig(level="off"),
    "lossless": LevelConfig(
        level="lossless",
        text=("json_minify", "json_embedded", "whitespace"),
        history=("dedup", "dedup_blocks"),
    ),
    "balanced": LevelConfig(
        level="balanced",
        text=("terminal", "json_minify", "json_embedded", "whitespace", "log_fold"),
        history=("dedup", "dedup_blocks", "aliases"),
        turn=("documents", "fewshot"),
    ),
    "aggressive": LevelConfig(
        level="aggressive",
        text=TEXT_ORDER,  # every text stage
        history=HISTORY_ORDER,
        turn=("documents", "fewshot"),
        documents_keep=0.2,
        fewshot_keep=0.25,
        prose_max_drop=0.3,
        log_min_run=4,
    ),
}


def config_for(policy: Policy) -> LevelConfig:
    return CONFIGS.get(policy.level, CONFIGS["balanced"])


def allows(stage: str, *, kind: Kind, role: str, small: bool) -> bool:
    """May ``stage`` touch a text of this class, role and size?"""
    if kind not in STAGE_KINDS.get(stage, frozenset()):
        return False
    if role == "assistant":
        return stage in ASSISTANT_OK
    if small:
        return stage in SMALL_OK
    return True


class PerMessage:
    """Adapter: a ``Stage`` whose effect on a message depends only on that message (such as prose
    pruning) run as a :class:`TextStage`, so the pipeline can cache and check it per text."""

    def __init__(self, stage: Stage, policy_level: Level) -> None:
        self.stage = stage
        self.name = stage.name
        self._ctx = StageContext(policy=Policy(level=policy_level), query="", frozen_until=-1)

    def transform(self, text: str, info: TextInfo) -> str:
        message: Message = {"role": info.role, "content": text}
        out = self.stage.apply([message, {"role": "user", "content": ""}], self._ctx)
        content = out[0].get("content") if out else text
        return content if isinstance(content, str) else text


@lru_cache(maxsize=len(LEVELS))
def text_stages(level: Level) -> tuple[TextStage, ...]:
    cfg = CONFIGS[level]
    made: dict[str, TextStage] = {
        "terminal": Terminal(),
        "json_minify": JsonMinify(),
        "json_table": JsonTable(),
        "json_embedded": JsonEmbedded(),
        "whitespace": Whitespace(),
        "log_fold": LogFold(min_run=cfg.log_min_run),
        "code_comments": CodeComments(),
        "prose_prune": PerMessage(
            ProsePruning(max_drop=cfg.prose_max_drop, min_tokens=cfg.small_tokens), level
        ),
    }
    return tuple(made[name] for name in cfg.text)


@lru_cache(maxsize=len(LEVELS))
def turn_stages(level: Level) -> tuple[Stage, ...]:
    cfg = CONFIGS[level]
    made: dict[str, Stage] = {
        "documents": DocumentSelection(keep_ratio=cfg.documents_keep),
        "fewshot": FewShotBudget(keep_ratio=cfg.fewshot_keep),
    }
    return tuple(made[name] for name in cfg.turn)


DEDUP = Dedup(min_block_lines=3, min_block_chars=60)
ALIASES = Aliases()


def describe_config() -> dict[str, Any]:
    """Levels, stages per level, content classes per stage, thresholds and defaults (for
    ``GET /api/config``). Plain JSON-able data."""
    return {
        "format_version": FORMAT_VERSION,
        "default_level": Policy().level,
        "levels": {
            level: {
                "stages": [*cfg.text, *cfg.history, *cfg.turn],
                "text_stages": list(cfg.text),
                "history_stages": list(cfg.history),
                "turn_stages": list(cfg.turn),
                "small_tokens": cfg.small_tokens,
                "documents_keep_ratio": cfg.documents_keep if "documents" in cfg.turn else None,
                "fewshot_keep_ratio": cfg.fewshot_keep if "fewshot" in cfg.turn else None,
                "prose_max_drop": cfg.prose_max_drop if "prose_prune" in cfg.text else None,
                "log_min_run": cfg.log_min_run if "log_fold" in cfg.text else None,
            }
            for level, cfg in CONFIGS.items()
        },
        "stage_classes": {name: sorted(kinds) for name, kinds in STAGE_KINDS.items()},
        "content_classes": list(KINDS),
        "lossless_on_small_and_assistant": sorted(LOSSLESS_TEXT),
        "on_small_texts": sorted(SMALL_OK),
        "thresholds": {
            "chars_per_token_estimate": CHARS_PER_TOKEN,
            "dedup_min_chars": DEDUP.min_chars,
            "dedup_block_min_lines": DEDUP.min_block_lines,
            "alias_min_tokens": ALIASES.min_tokens,
            "alias_min_count": ALIASES.min_count,
        },
        "protect_markers": ["<occ:protect>", "</occ:protect>"],
        "alias_sigil": "§",
    }
