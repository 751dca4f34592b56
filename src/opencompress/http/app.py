"""``create_app(settings)``: the composition root.

The lifespan builds every adapter once (storage + migrations, limiter, price table, pooled
upstream client, the built-in simulator when no upstream is configured) into an
:class:`AppContext` on ``app.state.ctx``; routes only read it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from opencompress import dashboard
from opencompress.accounts.byok import ByokCipher
from opencompress.accounts.key_manager import KeyManager
from opencompress.accounts.operator import OperatorService
from opencompress.accounts.service import AccountService
from opencompress.accounts.sessions import SessionService
from opencompress.accounts.ssrf import UpstreamGuard
from opencompress.accounts.usage import UsageService
from opencompress.billing.prices import PriceTable
from opencompress.config import Settings
from opencompress.gateway.context import AppContext, KeyUsageCoalescer
from opencompress.gateway.holds import HoldRenewer
from opencompress.http.cors import LlmApiCors
from opencompress.http.errors import EXCEPTION_HANDLERS
from opencompress.http.routes import admin, chat, compress, keys, meta, metrics, session, usage
from opencompress.http.session_renewal import SessionCookieRenewal
from opencompress.observability.metrics import GatewayMetrics
from opencompress.observability.requests import RequestObserver
from opencompress.ratelimit.fallback import open_rate_limiter
from opencompress.storage import open_storage
from opencompress.upstream.client import Upstream, UpstreamClient

log = logging.getLogger("opencompress")

SIMULATOR_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!! No upstream configured (OPENCOMPRESS_UPSTREAM_BASE_URL is empty): answers come from the\n"
    "!! BUILT-IN UPSTREAM SIMULATOR at {url}, not a real model.\n"
    "!! Set OPENCOMPRESS_UPSTREAM_BASE_URL and OPENCOMPRESS_UPSTREAM_API_KEY to use a real provider.\n"
    + "!"
    * 78
)


DEMO_SPENDS_REAL_CREDIT = (
    "Note: an upstream is configured, so this key spends real provider credit. If these lines reach\n"
    "shared logs, revoke it (opencompress keys revoke); set OPENCOMPRESS_DEV_MODE=false in production."
)


def announce(text: str) -> None:
    """Startup messages meant for the operator's terminal (the demo key, the simulator warning)."""
    print(text, file=sys.stderr, flush=True)


def create_app(settings: Settings) -> Starlette:
    gateway_metrics = GatewayMetrics()  # per app, not the process-global registry

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # What fails on a bad setting comes first, before the schema and the demo account exist.
            byok = ByokCipher.from_settings(settings)  # a malformed OPENCOMPRESS_SECRET_KEY fails here
            limiter = open_rate_limiter(
                settings.redis_url, lease_ttl_s=settings.ratelimit_lease_s
            )  # Redis (local fallback) or per process
            stack.push_async_callback(limiter.close)
            storage = open_storage(settings.database_url)
            stack.push_async_callback(storage.close)
            await storage.migrate()
            accounts = AccountService(storage)
            if settings.dev_mode:
                demo_key = await accounts.ensure_demo_account()
                if demo_key is not None:
                    announce(f"Created demo account with $5.00 credit. Its API key (shown once):\n{demo_key}")
                    if settings.upstream_base_url:
                        announce(DEMO_SPENDS_REAL_CREDIT)
            upstream_client = UpstreamClient(
                connect_timeout_s=settings.upstream_connect_timeout_s,
                read_timeout_s=settings.upstream_timeout_s,
            )
            await upstream_client.start()
            stack.push_async_callback(upstream_client.close)
            if settings.uses_simulator:
                from opencompress.simulator import start_in_loop

                simulator = await start_in_loop()
                stack.push_async_callback(simulator.stop)
                default_upstream = Upstream(base_url=simulator.base_url, api_key="sk-simulator")
                announce(SIMULATOR_BANNER.format(url=simulator.base_url))
            else:
                default_upstream = Upstream(
                    base_url=settings.upstream_base_url, api_key=settings.upstream_api_key
                )
            key_usage = KeyUsageCoalescer(storage)
            key_usage.start()
            stack.push_async_callback(key_usage.stop)
            holds = HoldRenewer(storage)
            holds.start()
            stack.push_async_callback(holds.stop)
            guard = UpstreamGuard(allow_private=settings.allow_private_upstreams)
            ctx = AppContext(
                settings=settings,
                storage=storage,
                accounts=accounts,
                limiter=limiter,
                prices=PriceTable.load(settings),
                upstream_client=upstream_client,
                default_upstream=default_upstream,
                simulated=settings.uses_simulator,
                key_usage=key_usage,
                holds=holds,
                byok=byok,
                upstream_guard=guard,
                sessions=SessionService(
                    storage,
                    ttl_s=settings.session_ttl_s,
                    max_lifetime_s=settings.session_max_lifetime_s,
                    limiter=limiter,
                ),
                key_manager=KeyManager(accounts, cipher=byok, guard=guard, before_list=key_usage.flush),
                usage=UsageService(
                    storage, low_balance_threshold_micros=settings.low_balance_threshold_micros
                ),
                operator=OperatorService(accounts),
                metrics=gateway_metrics,
            )
            app.state.ctx = ctx
            # Everything built above lives as long as the process: park it outside the cyclic
            # GC's generations so full collections under load do not walk it again and again.
            gc.collect()
            gc.freeze()
            yield
            await ctx.background.drain(settings.shutdown_grace_s)

    return Starlette(
        routes=[
            *chat.routes,
            *compress.routes,
            *meta.routes,
            *metrics.routes,
            *session.routes,
            *keys.routes,
            *usage.routes,
            *admin.routes,
            *dashboard.routes,
        ],
        middleware=[
            Middleware(LlmApiCors),  # outermost: preflights end here, and error responses get the headers too
            Middleware(RequestObserver, metrics=gateway_metrics),
            Middleware(SessionCookieRenewal, ttl_s=settings.session_ttl_s),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
