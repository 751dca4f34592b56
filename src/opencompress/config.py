"""Settings from environment variables and an optional TOML file.

Precedence: environment variable > TOML file > default. The TOML file is named by
``OPENCOMPRESS_CONFIG`` (default ``./opencompress.toml`` when it exists) and uses the field names
below as keys (``port = 8080``). Every field has a default and a one-line doc; the README's
configuration table is generated from :data:`Settings` by ``opencompress config-table`` and a test
keeps the two in sync.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlsplit

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


LEVELS = ("off", "lossless", "balanced", "aggressive")
"""The compression levels (``opencompress.compression.LEVELS``, which a test keeps equal: this
module is imported by every CLI command and stays free of the engine's imports)."""
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class Bounds:
    """The range a numeric setting must fall in, checked when settings are built."""

    low: float
    high: float | None = None
    low_excluded: bool = False
    """``low`` itself is refused (a timeout of 0 s would fail every request)."""
    unit: str = ""

    def admits(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False  # inf passed as "at least 0" and then overflowed in aiohttp and uvicorn
        above = value > self.low if self.low_excluded else value >= self.low
        return above and (self.high is None or value <= self.high)

    def describe(self, whole: bool) -> str:
        kind = "an integer" if whole else "a number"
        if self.high is not None:
            text = f"{kind} from {self.low:g} to {self.high:g}"
        else:
            text = f"{kind} {'greater than' if self.low_excluded else 'of at least'} {self.low:g}"
        return f"{text} ({self.unit})" if self.unit else text


def _doc(text: str, default: Any, *, choices: tuple[str, ...] = (), bounds: Bounds | None = None) -> Any:
    return field(default=default, metadata={"doc": text, "choices": choices, "bounds": bounds})


def _secret(text: str, default: Any) -> Any:
    """A field whose value must never be printed: it is left out of the dataclass ``repr``."""
    return field(default=default, repr=False, metadata={"doc": text})


_PRICE = Bounds(0, MAX_PRICE_MICROS_PER_1M, unit="micro-dollars per 1M tokens")


def is_valid_price(value: object) -> TypeGuard[int]:
    """A price in micro-dollars per 1M tokens: an integer (not a bool) from 0 to
    :data:`MAX_PRICE_MICROS_PER_1M` (the prices file's entries; the default prices use the same
    bounds)."""
    return isinstance(value, int) and _PRICE.admits(value)


_POSITIVE = Bounds(0, low_excluded=True)
_AT_LEAST_ONE = Bounds(1)


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = _doc(
        "SQLAlchemy-style URL: `sqlite:///relative.db`, `sqlite:////abs/path.db` or `postgresql://…`",
        "sqlite:///opencompress.db",
    )
    host: str = _doc("Interface `serve` binds to", "127.0.0.1")
    port: int = _doc("Port `serve` listens on", 8080, bounds=Bounds(1, 65535))
    upstream_base_url: str = _doc(
        "OpenAI-compatible upstream base URL (e.g. `https://api.openai.com/v1`); empty = built-in simulator",
        "",
    )
    upstream_api_key: str = _secret("Bearer key sent to the upstream (router mode); never logged", "")
    upstream_timeout_s: float = _doc(
        "Seconds to wait for the upstream's first byte / between chunks", 300.0, bounds=_POSITIVE
    )
    upstream_connect_timeout_s: float = _doc(
        "Seconds to open a connection to the upstream", 10.0, bounds=_POSITIVE
    )
    dev_mode: bool = _doc(
        "On first start with an empty database, create a demo account with $5.00 and print its key", True
    )
    default_rpm: int = _doc(
        "Requests per minute allowed per key unless the key says otherwise", 60, bounds=_AT_LEAST_ONE
    )
    default_concurrency: int = _doc(
        "Concurrent in-flight requests per key unless the key says otherwise", 10, bounds=_AT_LEAST_ONE
    )
    compression_level: str = _doc(
        "Default level: `off`, `lossless`, `balanced` or `aggressive`", "balanced", choices=LEVELS
    )
    prices_file: str = _doc("TOML/JSON file overriding the shipped model price table", "")
    default_input_price: int = _doc(
        "Micro-dollars per 1M input tokens for models not in the table (0 to 10^12)", 2_500_000, bounds=_PRICE
    )
    default_output_price: int = _doc(
        "Micro-dollars per 1M output tokens for models not in the table (0 to 10^12)",
        10_000_000,
        bounds=_PRICE,
    )
    reject_unknown_models: bool = _doc(
        "Answer 400 for models not in the price table instead of the default price", False
    )
    fee_percent: int = _doc(
        "Share (0 to 100 percent) of the money compression saved that is charged as the fee",
        20,
        bounds=Bounds(0, MAX_FEE_PERCENT),
    )
    max_body_bytes: int = _doc(
        "Largest accepted request body; larger gets 413", 16 * 1024 * 1024, bounds=_AT_LEAST_ONE
    )
    redis_url: str = _doc("Redis URL for global rate limits across replicas; empty = per-process limits", "")
    ratelimit_lease_s: float = _doc(
        "Seconds a concurrency-slot lease lives in Redis unless renewed (a dead replica's slots free after)",
        60.0,
        bounds=_POSITIVE,
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
        bounds=_AT_LEAST_ONE,
    )
    session_max_lifetime_s: int = _doc(
        "Seconds after sign-in at which a session ends however much it is used; 0 = no cap",
        30 * 24 * 3600,
        bounds=Bounds(0),
    )
    cookie_secure: str = _doc(
        "Mark the sign-in cookies `Secure`: `auto` (when the request came over https, as the server "
        "sees it), `true` (always: behind a TLS-terminating proxy the server does not trust) or `false`",
        "auto",
        choices=COOKIE_SECURE_VALUES,
    )
    low_balance_threshold_micros: int = _doc(
        "Balance (micro-dollars) under which `/api/balance` and the dashboard warn",
        1_000_000,
        bounds=Bounds(0),
    )
    log_level: str = _doc(
        "Log level: `debug`, `info`, `warning`, `error` or `critical`", "info", choices=LOG_LEVELS
    )
    log_content: bool = _doc(
        "Add the prompt (first 8,000 characters) to each request's log line, at any log level; "
        "for debugging only (keys are never logged)",
        False,
    )
    log_format: str = _doc(
        "`json` (one object per line, for log shippers) or `text` (for a terminal)",
        "json",
        choices=LOG_FORMATS,
    )
    metrics_enabled: bool = _doc("Serve Prometheus metrics at `GET /metrics` (unauthenticated)", True)
    shutdown_grace_s: float = _doc(
        "On SIGTERM, seconds to let in-flight streams finish", 30.0, bounds=Bounds(0)
    )

    def __post_init__(self) -> None:
        """Refuse settings that would break things later, when they are loaded, not on the first
        request: a negative default price makes every unknown model fail to bill, a fee outside
        0..100 or a rate limit of 0 makes every chat request fail, a misspelt ``cookie_secure``
        must not silently drop ``Secure``, a misspelt level must not silently run another one.
        ``ValueError`` naming the variable, like every configuration error: ``serve`` refuses to
        start and the CLI prints the message. Choices are normalised here (``" Balanced"`` →
        ``"balanced"``; a TOML boolean arrives as ``"True"``)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            name = f"{ENV_PREFIX}{f.name.upper()}"
            choices: tuple[str, ...] = f.metadata.get("choices") or ()
            if choices:
                chosen = str(value).strip().lower()
                if chosen not in choices:
                    raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
                object.__setattr__(self, f.name, chosen)  # frozen: normalise once, here
            bounds: Bounds | None = f.metadata.get("bounds")
            whole = isinstance(f.default, int) and not isinstance(f.default, bool)
            if bounds is not None and not (bounds.admits(value) and (isinstance(value, int) or not whole)):
                raise ValueError(f"{name} must be {bounds.describe(whole)}, got {value!r}")
        url = self.upstream_base_url.strip()
        object.__setattr__(self, "upstream_base_url", url)
        if url:
            # "api.openai.com/v1" (no scheme) started fine and then failed every request with a
            # bare 502: the one-character typo was nowhere to be seen.
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{ENV_PREFIX}UPSTREAM_BASE_URL must be an http:// or https:// URL, got {url!r} "
                    "(for example https://api.openai.com/v1)"
                )

    @property
    def uses_simulator(self) -> bool:
        return not self.upstream_base_url

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: str | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) and the TOML file it names.

        Every key in the file must be a setting: a typo there (``prot = 9000``) would otherwise be
        ignored and the server would quietly run on the default. A named file that does not exist
        is read as empty (naming one is how a caller keeps a stray ``./opencompress.toml`` out);
        :meth:`warnings` reports it, for ``serve`` to print."""
        env = os.environ if env is None else env
        named = config_file or env.get(f"{ENV_PREFIX}CONFIG")
        path = named or "opencompress.toml"
        file_values: dict[str, Any] = {}
        if Path(path).is_file():
            with open(path, "rb") as handle:
                try:
                    file_values = tomllib.load(handle)
                except tomllib.TOMLDecodeError as exc:
                    raise ValueError(f"{path} is not valid TOML: {exc}") from None
        known = {f.name for f in dataclasses.fields(cls)}
        for key in file_values:
            if key not in known:
                close = _closest(key, known)
                hint = f" (did you mean {close}?)" if close else ""
                raise ValueError(f"{path}: {key!r} is not a setting{hint}")
        values: dict[str, Any] = {}
        from_file: list[str] = []
        try:
            for f in dataclasses.fields(cls):
                raw: Any = env.get(ENV_PREFIX + f.name.upper())
                if raw is None and f.name in file_values:
                    raw = file_values[f.name]
                    from_file.append(f.name)
                if raw is not None:
                    values[f.name] = _coerce(f.name, raw, f.default)
            return cls(**values)
        except ValueError as exc:
            # A bad value from the file is named as the file's key: the operator would otherwise
            # look for an OPENCOMPRESS_PORT that is set nowhere.
            message = str(exc)
            for name in from_file:
                variable = f"{ENV_PREFIX}{name.upper()} "
                if message.startswith(variable):
                    raise ValueError(f"{path}: {name} {message[len(variable) :]}") from None
            raise

    @classmethod
    def warnings(cls, env: Mapping[str, str] | None = None) -> list[str]:
        """What ``serve`` should tell the operator before starting: an ``OPENCOMPRESS_CONFIG`` that
        names no file, and ``OPENCOMPRESS_*`` variables that are not settings but look like one
        (``OPENCOMPRESS_PROT``), each with its likely meaning. Other unknown names are left alone:
        they may belong to tooling around the gateway."""
        env = os.environ if env is None else env
        found = []
        named = env.get(f"{ENV_PREFIX}CONFIG")
        if named and not Path(named).is_file():
            found.append(f"{ENV_PREFIX}CONFIG names {named!r}, which is not a file: no settings file is read")
        known = {f.name.upper() for f in dataclasses.fields(cls)} | {"CONFIG"}
        for name in sorted(env):
            short = name.removeprefix(ENV_PREFIX)
            if short != name and short not in known and (close := _closest(short, known)):
                found.append(f"{name} is not a setting (did you mean {ENV_PREFIX}{close}?); it is ignored")
        return found

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _closest(name: str, known: set[str]) -> str | None:
    """The setting ``name`` is probably a typo of (``prot`` → ``port``), if any."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return close[0] if close else None


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
