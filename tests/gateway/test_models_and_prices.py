"""Unknown models: the operator's default price, or a 400 when the operator rejects them."""

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
