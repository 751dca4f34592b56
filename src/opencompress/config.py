"""Settings from environment variables and an optional TOML file.

Precedence: environment variable > TOML file > default. The TOML file is named by
``OPENCOMPRESS_CONFIG`` (default ``./opencompress.toml`` when it exists) and uses the field names
below as keys (``port = 8080``). Every field has a default and a one-line doc; the README's
configuration table is generated from :data:`Settings` by ``opencompress config-table`` and a test
keeps the two in sync.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

ENV_PREFIX = "OPENCOMPRESS_"

MAX_PRICE_MICROS_PER_1M = 10**12
"""The highest price the gateway accepts, in micro-dollars per 1M tokens: $1 per token.

Why this value: it is about 8,000× the dearest list price in the shipped table (gpt-5-pro output,
$120 per 1M tokens), so no real price comes near it, while every charge built from it stays an
exact signed 64-bit integer, which is what the database stores: a request would need about 9e12
tokens at this price to pass ``2**63 - 1`` micro-dollars, and a request body is capped at
16 MiB (a few million tokens). A larger price is a typo (``10**30``) whose charges would
overflow the balance column instead of billing."""

MAX_FEE_PERCENT = 100
"""The fee is a share of the savings: above 100% the billing formula refuses it (every chat
request would then fail with a 500), below 0 it would pay the user for compressing."""


COOKIE_SECURE_VALUES = ("auto", "true", "false")
"""``auto``: Secure when the request came over https as the server sees it (uvicorn takes the scheme
from ``X-Forwarded-Proto`` only from a trusted proxy, by default one on loopback). ``true`` is for a
TLS-terminating proxy on another host, whose requests arrive as plain http."""


def is_valid_price(value: object) -> TypeGuard[int]:
    """A price in micro-dollars per 1M tokens: an integer (not a bool) from 0 to
    :data:`MAX_PRICE_MICROS_PER_1M`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PRICE_MICROS_PER_1M


def _doc(text: str, default: Any) -> Any:
    return field(default=default, metadata={"doc": text})


def _secret(text: str, default: Any) -> Any:
    """A field whose value must never be printed: it is left out of the dataclass ``repr``."""
    return field(default=default, repr=False, metadata={"doc": text})


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = _doc(
        "SQLAlchemy-style URL: `sqlite:///relative.db`, `sqlite:////abs/path.db` or `postgresql://…`",
        "sqlite:///opencompress.db",
    )
    host: str = _doc("Interface `serve` binds to", "127.0.0.1")
    port: int = _doc("Port `serve` listens on", 8080)
    upstream_base_url: str = _doc(
        "OpenAI-compatible upstream base URL (e.g. `https://api.openai.com/v1`); empty = built-in simulator",
        "",
    )
    upstream_api_key: str = _secret("Bearer key sent to the upstream (router mode); never logged", "")
    upstream_timeout_s: float = _doc("Seconds to wait for the upstream's first byte / between chunks", 300.0)
    upstream_connect_timeout_s: float = _doc("Seconds to open a connection to the upstream", 10.0)
    dev_mode: bool = _doc(
        "On first start with an empty database, create a demo account with $5.00 and print its key", True
    )
    default_rpm: int = _doc("Requests per minute allowed per key unless the key says otherwise", 60)
    default_concurrency: int = _doc("Concurrent in-flight requests per key unless the key says otherwise", 10)
    compression_level: str = _doc("Default level: `off`, `lossless`, `balanced` or `aggressive`", "balanced")
    prices_file: str = _doc("TOML/JSON file overriding the shipped model price table", "")
    default_input_price: int = _doc(
        "Micro-dollars per 1M input tokens for models not in the table (0 to 10^12)", 2_500_000
    )
    default_output_price: int = _doc(
        "Micro-dollars per 1M output tokens for models not in the table (0 to 10^12)", 10_000_000
    )
    reject_unknown_models: bool = _doc(
        "Answer 400 for models not in the price table instead of the default price", False
    )
    fee_percent: int = _doc(
        "Share (0 to 100 percent) of the money compression saved that is charged as the fee", 20
    )
    max_body_bytes: int = _doc("Largest accepted request body; larger gets 413", 16 * 1024 * 1024)
    redis_url: str = _doc("Redis URL for global rate limits across replicas; empty = per-process limits", "")
    ratelimit_lease_s: float = _doc(
        "Seconds a concurrency-slot lease lives in Redis unless renewed (a dead replica's slots free after)",
        60.0,
    )
    admin_token: str = _secret(
        "Bearer token for `/admin/*` (and `/api/*` with `?account_id=`); empty disables operator access", ""
    )
    secret_key_file: str = _doc(
        "File holding the AES-GCM key that encrypts BYOK upstream keys "
        "(created 0600 when the first BYOK key is stored)",
        ".opencompress.key",
    )
    secret_key: str = _secret(
        "Base64 of 32 random bytes: the AES-GCM key for BYOK upstream keys (overrides the key file)", ""
    )
    allow_private_upstreams: bool = _doc(
        "Let BYOK base URLs point at loopback/private addresses (SSRF guard off)", False
    )
    session_ttl_s: int = _doc(
        "Lifetime in seconds of a dashboard/API sign-in session; using it in its second half renews it",
        7 * 24 * 3600,
    )
    session_max_lifetime_s: int = _doc(
        "Seconds after sign-in at which a session ends however much it is used; 0 = no cap",
        30 * 24 * 3600,
    )
    cookie_secure: str = _doc(
        "Mark the sign-in cookies `Secure`: `auto` (when the request came over https, as the server "
        "sees it), `true` (always: behind a TLS-terminating proxy the server does not trust) or `false`",
        "auto",
    )
    low_balance_threshold_micros: int = _doc(
        "Balance (micro-dollars) under which `/api/balance` and the dashboard warn", 1_000_000
    )
    log_level: str = _doc("Log level: `debug`, `info`, `warning`, `error`", "info")
    log_content: bool = _doc(
        "Add the prompt (first 8,000 characters) to each request's log line, at any log level; "
        "for debugging only (keys are never logged)",
        False,
    )
    log_format: str = _doc(
        "`json` (one object per line, for log shippers) or `text` (for a terminal)", "json"
    )
    metrics_enabled: bool = _doc("Serve Prometheus metrics at `GET /metrics` (unauthenticated)", True)
    shutdown_grace_s: float = _doc("On SIGTERM, seconds to let in-flight streams finish", 30.0)

    def __post_init__(self) -> None:
        """Refuse settings that would break things later, when they are loaded: a negative
        default price makes every unknown model fail to bill, a fee outside 0..100 makes every chat
        request a 500, a negative session cap would end every session at once, and a misspelt
        ``cookie_secure`` must not silently drop ``Secure``. ``ValueError`` naming the variable,
        like every configuration error: ``serve`` refuses to start and the CLI prints the
        message."""
        for name in ("default_input_price", "default_output_price"):
            value = getattr(self, name)
            if not is_valid_price(value):
                raise ValueError(
                    f"{ENV_PREFIX}{name.upper()} must be an integer from 0 to "
                    f"{MAX_PRICE_MICROS_PER_1M} (micro-dollars per 1M tokens), got {value!r}"
                )
        cap = self.session_max_lifetime_s
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise ValueError(
                f"{ENV_PREFIX}SESSION_MAX_LIFETIME_S must be a whole number of seconds, 0 or more "
                f"(0 = no cap), got {cap!r}"
            )
        secure = str(self.cookie_secure).strip().lower()  # a TOML boolean arrives as "True"
        if secure not in COOKIE_SECURE_VALUES:
            raise ValueError(
                f"{ENV_PREFIX}COOKIE_SECURE must be one of {', '.join(COOKIE_SECURE_VALUES)}, "
                f"got {self.cookie_secure!r}"
            )
        object.__setattr__(self, "cookie_secure", secure)  # frozen: normalise once, here
        fee = self.fee_percent
        if isinstance(fee, bool) or not isinstance(fee, int) or not 0 <= fee <= MAX_FEE_PERCENT:
            raise ValueError(
                f"{ENV_PREFIX}FEE_PERCENT must be an integer from 0 to {MAX_FEE_PERCENT}, got {fee!r}"
            )

    @property
    def uses_simulator(self) -> bool:
        return not self.upstream_base_url

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: str | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) and the TOML file it names."""
        env = os.environ if env is None else env
        path = config_file or env.get(f"{ENV_PREFIX}CONFIG") or "opencompress.toml"
        file_values: dict[str, Any] = {}
        if Path(path).is_file():
            with open(path, "rb") as handle:
                file_values = tomllib.load(handle)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw: Any = env.get(ENV_PREFIX + f.name.upper(), file_values.get(f.name))
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, f.default)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be a boolean, got {raw!r}")
    if isinstance(default, int):
        # int(True) == 1 and int(20.5) == 20 would pass silently: refuse both.
        whole = not isinstance(raw, bool) and not (isinstance(raw, float) and not raw.is_integer())
        try:
            if whole:
                return int(raw)
        except (TypeError, ValueError):
            pass
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be a whole number, got {raw!r}")
    if isinstance(default, float):
        try:
            return float(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{ENV_PREFIX}{name.upper()} must be a number, got {raw!r}") from exc
    return str(raw)


def config_table() -> str:
    """The README configuration table, generated from :class:`Settings`."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{ENV_PREFIX}{f.name.upper()}` | {shown} | {f.metadata['doc']} |")
    return "\n".join(rows)
