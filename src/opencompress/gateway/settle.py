"""Billing a finished request: the formula, the one settle transaction, the slot release.

Token accounting: the upstream's ``prompt_tokens`` is the truth for what the model processed.
The original prompt's size is that figure plus the tokens compression removed (our o200k
counts before minus after), so tools/framing overhead the upstream counts is on both sides and
savings are exactly what compression took out. Nothing delivered (the upstream failed before a
single chunk reached the client) → nothing charged, but the usage row is still written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from opencompress.billing.formula import compute_charge
from opencompress.errors import OpenCompressError, StorageError, UpstreamStatusError
from opencompress.observability.requests import finish_settled
from opencompress.storage.base import SettleResult, UsageRecord

if TYPE_CHECKING:
    from opencompress.gateway.chat import PreparedChat
    from opencompress.gateway.context import AppContext
    from opencompress.gateway.stream import StreamTally

log = logging.getLogger("opencompress.billing")


async def settle_request(
    ctx: AppContext,
    prep: PreparedChat,
    tally: StreamTally,
    *,
    charge_output: bool,
    error: OpenCompressError | None = None,
) -> None:
    record: UsageRecord | None = None
    charged: int | None = None
    try:
        delivered = charge_output and (tally.answered or bool(tally.relayed_text) or tally.usage is not None)
        c = prep.compression
        upstream_prompt = tally.prompt_tokens()
        compressed_in = upstream_prompt if upstream_prompt is not None else c.compressed_tokens
        original_in = compressed_in + max(0, c.original_tokens - c.compressed_tokens)
        output = tally.output_tokens() if delivered else 0
        billable = 1 if delivered else 0  # nothing delivered: the row records the attempt, costs stay zero
        charge = compute_charge(
            original_input_tokens=original_in * billable,
            compressed_input_tokens=compressed_in * billable,
            output_tokens=output,
            price=prep.price,
            mode=prep.key.mode,
            fee_percent=ctx.settings.fee_percent,
        )
        now = time.perf_counter()
        status = tally.status if tally.status != "in_progress" else "error"
        record = UsageRecord(
            request_id=prep.request_id,
            account_id=prep.key.account_id,
            key_id=prep.key.id,
            model=prep.chat.model,
            mode=prep.key.mode,
            original_input_tokens=original_in,
            compressed_input_tokens=compressed_in,
            output_tokens=output,
            original_cost_micros=charge.original_cost_micros,
            actual_cost_micros=charge.actual_cost_micros,
            savings_micros=charge.savings_micros,
            fee_micros=charge.fee_micros,
            charge_micros=charge.charge_micros,
            compression_ms=round(c.ms, 3),
            ttfb_ms=None
            if tally.first_byte_at is None
            else round((tally.first_byte_at - prep.started) * 1000, 3),
            total_ms=round((now - prep.started) * 1000, 3),
            status=status if error is None else "upstream_error",
            created_at=prep.created_at,
        )
        charged = (await _settle_with_retries(ctx, record)).charged_micros
    except Exception:
        log.exception(
            "settling request %s failed; no usage row was written: %s",
            prep.request_id,
            "no usage record" if record is None else _unbilled(record),
        )
        with contextlib.suppress(Exception):  # the hold collects nothing: do not let it block the account
            await ctx.storage.release(prep.request_id)
        raise
    except asyncio.CancelledError:
        # A shutdown whose grace ran out while the database was down cancels the retries. The
        # answer was delivered: the operator needs the figures to charge it by hand, at error
        # level like any other unbilled request (this used to exit with no word of it).
        log.error(
            "settling request %s was cancelled at shutdown; no usage row was written: %s",
            prep.request_id,
            "no usage record" if record is None else _unbilled(record),
        )
        raise
    finally:
        ctx.holds.forget(prep.request_id)
        await ctx.limiter.release(prep.key.id, prep.request_id)
        if record is not None:
            _observe(ctx, prep, record, charged, error, tally)


SETTLE_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
"""Back-off between settle attempts (~69 s in all): long enough to ride out a database that is
busy, failing over or restarting, short enough to finish within a graceful shutdown's drain."""


async def _settle_with_retries(ctx: AppContext, record: UsageRecord) -> SettleResult:
    """The settle, retried while storage is unavailable, if money is at stake.

    A charge is settled after its answer was delivered, so giving up means serving for free.
    Retrying is safe: a settle is keyed by its request id, so an attempt that committed but lost
    its reply is found as a duplicate and never charged twice. A zero charge is tried once: it is
    settled inline on error paths, where the client is still waiting for its error."""
    delays = SETTLE_RETRY_DELAYS_S if record.charge_micros > 0 else ()  # nothing to lose: fail fast
    for delay in delays:
        try:
            return await ctx.storage.settle(record)
        except StorageError as exc:
            log.warning("settling request %s failed (%s); retrying in %g s", record.request_id, exc, delay)
            await asyncio.sleep(delay)
    return await ctx.storage.settle(record)  # the last attempt: its error is the caller's


def _unbilled(record: UsageRecord) -> str:
    """The figures an operator needs to charge the request by hand (no secrets: ids and counts)."""
    return (
        f"account={record.account_id} key={record.key_id} model={record.model} "
        f"input_tokens={record.compressed_input_tokens} output_tokens={record.output_tokens} "
        f"charge_micros={record.charge_micros}"
    )


def _observe(
    ctx: AppContext,
    prep: PreparedChat,
    record: UsageRecord,
    charged: int | None,
    error: OpenCompressError | None,
    tally: StreamTally,
) -> None:
    """The request's log line and metrics (see :mod:`opencompress.observability.requests`)."""
    code: str | None
    if isinstance(error, UpstreamStatusError):
        status, code = error.upstream_status, f"upstream_http_{error.upstream_status}"
    elif error is not None:
        status, code = error.status, error.code
    else:  # streams answered 200 however they ended; a mid-stream failure is still an upstream error
        broken = record.status == "upstream_error"
        status, code = 200, ((tally.error_code or "upstream_stream_error") if broken else None)
    finish_settled(
        ctx.metrics,
        record,
        model_label=prep.model_label,
        http_status=status,
        upstream_error_code=code,
        charged_micros=charged,
        stream=prep.chat.stream,
        prompt=prep.chat.messages if ctx.settings.log_content else None,
    )
