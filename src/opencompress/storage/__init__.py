"""Storage: the repository protocol, its records, and :func:`open_storage` to pick a backend by URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from opencompress.storage.base import (
    Account,
    ApiKey,
    KeyMode,
    LedgerEntry,
    SettleResult,
    Storage,
    UsageRecord,
)
from opencompress.storage.sqlite import SqliteStorage
from opencompress.storage.sqlite_conn import MEMORY


class UnsupportedDatabaseURL(ValueError):
    """The database URL names a scheme or form this build cannot open (a configuration error)."""


def sqlite_path(url: str) -> str:
    """The file path of a SQLAlchemy-style SQLite URL.

    ``sqlite:///rel.db`` → ``rel.db`` (relative to the working directory), ``sqlite:////abs/x.db`` →
    ``/abs/x.db``, and ``sqlite://`` or ``sqlite:///:memory:`` → ``:memory:`` (tests only: the
    database lives as long as the storage object).
    """
    if not url.lower().startswith("sqlite:"):
        raise UnsupportedDatabaseURL(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :] if url[len("sqlite:") :].startswith("//") else None
    if rest is not None and "?" in rest:
        raise UnsupportedDatabaseURL(f"query parameters are not supported in sqlite URLs: {url!r}")
    if rest in ("", "/", "/:memory:"):
        return MEMORY
    if rest is None or not rest.startswith("/"):
        raise UnsupportedDatabaseURL(
            f"sqlite URLs have three slashes before a relative path and four before an absolute one: {url!r}"
        )
    return rest[1:]


def open_storage(url: str) -> Storage:
    """Open (lazily: no I/O happens until the first call) the backend a database URL names.

    ``sqlite:///…`` → :class:`SqliteStorage`; ``postgresql://…`` or ``postgres://…`` (optionally
    ``postgresql+psycopg://``) → :class:`opencompress.storage.postgres.PostgresStorage`.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        return SqliteStorage(sqlite_path(url))
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        return _postgres(url)
    raise UnsupportedDatabaseURL(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///relative.db or sqlite:////absolute/path.db"
    )


def _postgres(url: str) -> Storage:
    """Import the PostgreSQL backend only when asked for, so SQLite installs need no psycopg."""
    try:
        from opencompress.storage.postgres import PostgresStorage
    except ImportError as exc:
        raise UnsupportedDatabaseURL(
            "PostgreSQL URLs need the optional dependencies: install the `postgres` extra "
            "(pip install 'opencompress[postgres]' or uv sync --extra postgres)"
        ) from exc
    try:
        return PostgresStorage(url)
    except ValueError as exc:
        raise UnsupportedDatabaseURL(str(exc)) from exc


__all__ = [
    "Account",
    "ApiKey",
    "KeyMode",
    "LedgerEntry",
    "SettleResult",
    "SqliteStorage",
    "Storage",
    "UnsupportedDatabaseURL",
    "UsageRecord",
    "open_storage",
    "sqlite_path",
]
