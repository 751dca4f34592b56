"""The model price table: shipped list prices, an operator override file, tolerant lookup.

Prices are integer micro-dollars per 1M tokens, input and output. The shipped table
(``billing/prices.toml``) is loaded once; an override file (TOML, or JSON when it ends in
``.json``) with the same layout is merged on top field by field, so an operator can change one
output price without repeating the input price.

Lookup forgives the ways clients and routers spell a model: case, a provider prefix
(``openai/gpt-4o``), a variant tag (``…:fp8``, ``…:free``) and a dated or ``-latest`` suffix
(``gpt-4o-2024-08-06``, ``claude-sonnet-4-20250514``, ``gpt-4-0613``). It never guesses by
prefix: ``gpt-4o-audio-preview`` is *not* priced as ``gpt-4o``, because a wrong price is worse
than the operator's explicit default.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from opencompress.config import Settings
from opencompress.errors import InvalidRequestError

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")
_CACHE_LIMIT = 4096


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    input_micros_per_1m: int
    output_micros_per_1m: int


class PriceTable:
    """Prices by canonical model name plus aliases; ``default`` prices unknown models (``None``:
    unknown models are refused with a 400)."""

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        *,
        aliases: Mapping[str, str] | None = None,
        default: ModelPrice | None = None,
    ) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}
        self._names: dict[str, str] = {name: name for name in self._prices}
        for alias, target in (aliases or {}).items():
            if target.lower() not in self._prices:
                raise ValueError(f"alias {alias!r} points at unknown model {target!r}")
            self._names.setdefault(alias.lower(), target.lower())
        self.default = default
        self._cache: dict[str, str | None] = {}

    def canonical(self, model: str) -> str | None:
        """The table's name for ``model``, or ``None`` when it is not in the table."""
        cached = self._cache.get(model, "")
        if cached != "":
            return cached
        found = next((self._names[c] for c in _candidates(model) if c in self._names), None)
        if len(self._cache) >= _CACHE_LIMIT:  # client-chosen names: keep the cache bounded
            self._cache.clear()
        self._cache[model] = found
        return found

    def get(self, model: str) -> ModelPrice | None:
        """The table's price for ``model``, or ``None`` when it is not in the table."""
        name = self.canonical(model)
        return None if name is None else self._prices[name]

    def lookup(self, model: str) -> ModelPrice:
        """The price to bill ``model`` at: its table entry, else the default, else a 400."""
        price = self.get(model)
        if price is not None:
            return price
        if self.default is None:
            raise InvalidRequestError(
                f"model {model!r} has no price on this gateway; ask the operator to add it",
                code="model_not_found",
                param="model",
            )
        return self.default

    def models(self) -> dict[str, ModelPrice]:
        """Canonical names and prices, sorted by name (for ``/v1/models`` and ``/api/config``)."""
        return dict(sorted(self._prices.items()))

    @classmethod
    def load(cls, settings: Settings) -> PriceTable:
        """Shipped table + ``settings.prices_file``, default price unless ``reject_unknown_models``."""
        default = (
            None
            if settings.reject_unknown_models
            else ModelPrice(
                input_micros_per_1m=settings.default_input_price,
                output_micros_per_1m=settings.default_output_price,
            )
        )
        return load_price_table(settings.prices_file or None, default=default)


def _candidates(model: str) -> Iterator[str]:
    name = model.strip().lower()
    yield name
    name = name.rsplit("/", 1)[-1]
    yield name
    name = name.split(":", 1)[0]
    yield name
    while True:
        shorter = _DATE_SUFFIX.sub("", name)
        if shorter == name or not shorter:
            return
        name = shorter
        yield name


def load_price_table(
    override_file: str | Path | None = None, *, default: ModelPrice | None = None
) -> PriceTable:
    """The shipped table with ``override_file`` merged on top. A bad file raises ``ValueError``
    naming the file and entry (an operator configuration error, reported at startup)."""
    shipped = resources.files("opencompress.billing").joinpath("prices.toml").read_text(encoding="utf-8")
    raw = _models_section(tomllib.loads(shipped), "(shipped)")
    if override_file:
        path = Path(override_file)
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read prices file {path}: {exc}") from exc
        for name, entry in _models_section(data, str(path)).items():
            raw.setdefault(name.lower(), {}).update(entry)
    prices: dict[str, ModelPrice] = {}
    aliases: dict[str, str] = {}
    for name, entry in raw.items():
        prices[name] = ModelPrice(
            input_micros_per_1m=_micros(entry, "input", name),
            output_micros_per_1m=_micros(entry, "output", name),
        )
        for alias in entry.get("aliases", []):
            aliases[str(alias)] = name
    return PriceTable(prices, aliases=aliases, default=default)


def _models_section(data: Any, source: str) -> dict[str, dict[str, Any]]:
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise ValueError(
            f"prices file {source}: expected a 'models' table of {{input = …, output = …}} entries"
        )
    return {str(name).lower(): dict(entry) for name, entry in models.items()}


def _micros(entry: Mapping[str, Any], field: str, model: str) -> int:
    value = entry.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"prices: model {model!r}: {field!r} must be a non-negative integer "
            f"(micro-dollars per 1M tokens), got {value!r}"
        )
    return value
