"""The benchmark's server processes: one simulator, the relay, and a gateway per compression level.

Gateways run as ``opencompress serve`` (the operator's command, with its uvicorn defaults), each
on its own temporary SQLite file seeded beforehand with one account (ample credit) and one key
whose rate limits the load cannot reach, so the full auth → limit → hold → settle path runs
without ever refusing a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _procs import ServerProc, free_port, gateway_argv, spawn, uvicorn_argv
from opencompress.accounts.service import AccountService
from opencompress.money import parse_usd
from opencompress.storage import open_storage

BENCH_DIR = Path(__file__).resolve().parent
GATEWAY_LEVELS = {"gateway_off": "off", "gateway_balanced": "balanced"}
CREDIT_USD = "1000000.00"
UPSTREAM_KEY = "sk-bench-upstream"
UPSTREAM_HEADERS = {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"}


async def seed_gateway_db(database_url: str) -> tuple[str, str]:
    """Schema + one account with ample credit + one key; returns (account id, full key)."""
    storage = open_storage(database_url)
    try:
        await storage.migrate()
        service = AccountService(storage)
        account = await service.create_account("bench")
        await service.credit(account.id, CREDIT_USD, "benchmark credit")
        _, key = await service.create_key(
            account.id, name="bench", mode="router", rpm_limit=100_000_000, concurrency_limit=100_000
        )
        return account.id, key
    finally:
        await storage.close()


async def ledger_check(database_url: str, account_id: str, expected_rows: int) -> dict[str, Any]:
    """After the gateway stopped: one ``ok`` usage row per request sent, balance change = charges."""
    storage = open_storage(database_url)
    try:
        rows = await storage.list_usage(account_id, limit=expected_rows + 100)
        account = await storage.get_account(account_id)
        if account is None:
            raise RuntimeError(f"benchmark account {account_id} vanished")
        spent = parse_usd(CREDIT_USD) - account.balance_micros
        charged = sum(r.charged_micros for r in rows)
        statuses = sorted({r.status for r in rows})
        return {
            "rows": len(rows),
            "expected": expected_rows,
            "spent_micros": spent,
            "charged_micros": charged,
            "statuses": statuses,
            "ok": len(rows) == expected_rows and spent == charged and statuses == ["ok"],
        }
    finally:
        await storage.close()


def gateway_env(home: Path, db_url: str, upstream: str, level: str) -> dict[str, str]:
    return {
        "OPENCOMPRESS_DATABASE_URL": db_url,
        "OPENCOMPRESS_UPSTREAM_BASE_URL": upstream,
        "OPENCOMPRESS_UPSTREAM_API_KEY": UPSTREAM_KEY,
        "OPENCOMPRESS_DEV_MODE": "false",
        "OPENCOMPRESS_LOG_LEVEL": "warning",
        "OPENCOMPRESS_COMPRESSION_LEVEL": level,
        "OPENCOMPRESS_SECRET_KEY_FILE": str(home / "secret.key"),
        "OPENCOMPRESS_CONFIG": str(home / "absent.toml"),
        "OPENCOMPRESS_SHUTDOWN_GRACE_S": "10",
    }


@dataclass
class GatewayHandle:
    server: ServerProc
    key: str
    db_url: str
    account_id: str


def start_simulator(workdir: Path, cores: Sequence[int] | None) -> ServerProc:
    port = free_port()
    argv = uvicorn_argv("opencompress.simulator:create_app", port)
    return spawn("simulator", argv, port=port, workdir=workdir / "simulator", cores=cores)


def start_relay(workdir: Path, upstream: str, cores: Sequence[int] | None) -> ServerProc:
    port = free_port()
    argv = uvicorn_argv("relay:create_app", port, app_dir=str(BENCH_DIR))
    env = {"BENCH_RELAY_UPSTREAM": upstream}
    return spawn("relay", argv, port=port, workdir=workdir / "relay", cores=cores, env=env)


def start_gateway(
    home: Path,
    name: str,
    level: str,
    upstream: str,
    cores: Sequence[int] | None,
    *,
    profile_out: Path | None = None,
) -> GatewayHandle:
    """``profile_out``: run the cProfile-switchable entry point writing there (see _profiled_serve)."""
    home.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{home / 'gateway.db'}"
    account_id, key = asyncio.run(seed_gateway_db(db_url))
    port = free_port()
    argv = gateway_argv(port, profiled=profile_out is not None)
    env = gateway_env(home, db_url, upstream, level)
    if profile_out is not None:
        env["BENCH_PROFILE_OUT"] = str(profile_out)
    server = spawn(name, argv, port=port, workdir=home, cores=cores, env=env)
    return GatewayHandle(server, key, db_url, account_id)


@dataclass
class Fleet:
    servers: dict[str, ServerProc]
    """``simulator`` plus one entry per variant that has its own process."""
    urls: dict[str, str]
    headers: dict[str, dict[str, str]]
    gateways: dict[str, GatewayHandle]

    def server_for(self, variant: str) -> ServerProc:
        return self.servers["simulator" if variant == "direct" else variant]

    def stop(self) -> None:
        """Stop the front servers together, then the simulator they were draining to."""
        fronts = [s for name, s in self.servers.items() if name != "simulator"]
        for server in fronts:
            server.signal_stop()
        for server in fronts:
            server.stop()
        self.servers["simulator"].stop()


def start_fleet(
    workdir: Path,
    variants: Sequence[str],
    server_cores: Sequence[int] | None,
    driver_cores: Sequence[int] | None,
) -> Fleet:
    """Start every process the variants need; returns once all answer ``GET /health``."""
    sim = start_simulator(workdir, driver_cores)
    fleet = Fleet({"simulator": sim}, {"direct": sim.base_url + "/chat/completions"}, {}, {})
    fleet.headers["direct"] = UPSTREAM_HEADERS
    try:
        if "relay" in variants:
            relay = fleet.servers["relay"] = start_relay(workdir, sim.base_url, server_cores)
            fleet.urls["relay"] = relay.base_url + "/chat/completions"
            fleet.headers["relay"] = UPSTREAM_HEADERS
        for variant, level in GATEWAY_LEVELS.items():
            if variant in variants:
                gw = start_gateway(workdir / variant, variant, level, sim.base_url, server_cores)
                fleet.servers[variant], fleet.gateways[variant] = gw.server, gw
                fleet.urls[variant] = gw.server.base_url + "/chat/completions"
                fleet.headers[variant] = {
                    "Authorization": f"Bearer {gw.key}",
                    "Content-Type": "application/json",
                }
        for server in fleet.servers.values():
            server.wait_ready()
    except BaseException:
        fleet.stop()
        raise
    return fleet
