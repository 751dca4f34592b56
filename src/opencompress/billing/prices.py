"""The model price table: shipped list prices, an operator override file, strict lookup.

Prices are integer micro-dollars per 1M tokens, input and output. The shipped table
(``billing/prices.toml``) is loaded once; an override file (TOML, or JSON when it ends in
``.json``) with the same layout is merged on top field by field, so an operator can change one
output price without repeating the input price.

Lookup is case-insensitive and tries, in order (:func:`_candidates`):

1. the exact name (``openai/gpt-4o:extended`` when the operator lists it);
2. without the provider prefix (``openai/gpt-4o`` → ``gpt-4o``);
3. without a ``:free`` tag (``…:free`` → the listed price: over-charging a free route is safe);
4. without one dated snapshot suffix: ``-2024-07-18``, ``-20250514``, ``-0613`` (month-day) or
   ``-2411`` (year-month).

Each rule removes only a part that says where or when the same model is served, never part of
the model's own name, so no rule can land on a different, cheaper listed model. Anything else is
the unknown-model rule (the operator's default price, or a 400): other ``:tags`` are kept
(OpenRouter's ``:extended``, ``:thinking``, ``:online`` and ``:nitro`` routes can cost more than
the plain model), ``-latest`` is kept (it moves to whatever snapshot comes next), and nothing is
guessed by prefix (``o1-pro`` is not ``o1``, ``gpt-4o-audio-preview`` is not ``gpt-4o``). A
snapshot priced apart from its model (``gpt-4o-2024-05-13`` cost twice ``gpt-4o``) needs its own
table entry, which rule 1 finds first.
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

from opencompress.config import MAX_PRICE_MICROS_PER_1M, Settings, is_valid_price
from opencompress.errors import InvalidRequestError

_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12]\d|3[01])"
_DATED_SUFFIX = re.compile(rf"-(?:20\d\d-{_MONTH}-{_DAY}|20\d\d{_MONTH}{_DAY}|{_MONTH}{_DAY}|2\d{_MONTH})$")
"""A snapshot date: ``-YYYY-MM-DD``, ``-YYYYMMDD``, ``-MMDD`` or ``-YYMM``. Real months and days
only, so a context size (``-8192``, ``-4096``) is not taken for a date."""
_FREE_TAG = ":free"
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
    """The names to try for ``model``, most specific first (the rules in the module doc)."""
    name = model.strip().lower()
    yield name
    name = name.rsplit("/", 1)[-1]
    yield name
    if name.endswith(_FREE_TAG):
        name = name[: -len(_FREE_TAG)]
        yield name
    undated = _DATED_SUFFIX.sub("", name)
    if undated and undated != name:
        yield undated


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
        for alias in _aliases(entry, name):
            aliases[alias] = name
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
    if not is_valid_price(value):
        raise ValueError(
            f"prices: model {model!r}: {field!r} must be an integer from 0 to "
            f"{MAX_PRICE_MICROS_PER_1M:_} (micro-dollars per 1M tokens), got {value!r}"
        )
    return value


def _aliases(entry: Mapping[str, Any], model: str) -> list[str]:
    """The entry's ``aliases``: a list of non-empty strings. A bare string is refused rather than
    iterated, which would make one alias per character (``"gpt-5"`` → ``g``, ``p``, ``t``…)."""
    value = entry.get("aliases", [])
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        raise ValueError(
            f"prices: model {model!r}: 'aliases' must be a list of model names "
            f'(aliases = ["name", …]), got {value!r}'
        )
    return [alias.strip() for alias in value]
