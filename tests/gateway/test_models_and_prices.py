"""Unknown models: the operator's default price, or a 400 when the operator rejects them; and
``models.retrieve`` answering the same question (usable here or not) before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from support.gateway import Gateway, running_gateway

MESSAGES = [{"role": "user", "content": "hello"}]


def test_unknown_model_is_billed_at_the_default_price(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00")
    completion = gateway.client(seeded.key).chat.completions.create(model="acme-llm-9000", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.usage is not None
    row = gateway.usage(seeded.account_id)[0]
    settings = gateway.settings
    expected = (
        row.compressed_input_tokens * settings.default_input_price
        + row.output_tokens * settings.default_output_price
    )
    assert row.actual_cost_micros == (2 * expected + 1_000_000) // 2_000_000


def test_unknown_model_rejected_when_operator_says_so(simulator: Any, tmp_path: Path) -> None:
    with running_gateway(tmp_path, simulator.base_url, reject_unknown_models=True) as gw:
        seeded = gw.seed(usd="1.00")
        client = gw.client(seeded.key)
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="acme-llm-9000", messages=MESSAGES)  # type: ignore[arg-type]
        assert info.value.status_code == 400
        assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices  # type: ignore[arg-type]
        assert client.models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.NotFoundError) as missing:
            client.models.retrieve("acme-llm-9000")
        assert missing.value.status_code == 404
        assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_models_retrieve_accepts_what_the_gateway_bills(gateway: Gateway) -> None:
    client = gateway.client(gateway.seed(usd="1.00").key)
    assert client.models.retrieve("gpt-4o-mini").model_dump(exclude_unset=True) == {
        "id": "gpt-4o-mini",
        "object": "model",
        "created": 0,
        "owned_by": "opencompress",
    }
    # unknown names are billed at the default price here, so they are usable; slashes are fine
    assert client.models.retrieve("acme/llm-9000").id == "acme/llm-9000"


def test_models_retrieve_refuses_what_chat_refuses(gateway: Gateway) -> None:
    """A name chat answers 400 for (too long, a control character) is not "available" either."""
    client = gateway.client(gateway.seed(usd="1.00").key)
    for name in ("m" * 300, "gpt\x01x"):
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=name, messages=MESSAGES)  # type: ignore[arg-type]
        with pytest.raises(openai.NotFoundError) as missing:
            client.models.retrieve(name)
        assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
