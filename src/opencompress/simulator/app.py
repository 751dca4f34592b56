"""The simulator's Starlette app: an OpenAI-compatible upstream on loopback.

It is a real HTTP server speaking OpenAI's exact wire format, not a mock of the gateway: the gateway
forwards to it with the same code it uses for OpenAI, OpenRouter or vLLM. Request handling order is
fixed so tests can reason about it: parse, log, authenticate (``require_key``), resolve the
``simulate`` spec (own or armed via ``POST /_sim/fault``), apply pre-response faults (``status``,
``timeout``), then replay a recording or generate an answer, streamed with any stream fault.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive

from opencompress.simulator.faults import (
    DEFAULT_GARBAGE_JSON,
    DEFAULT_GARBAGE_SSE,
    SimulateSpec,
    parse_simulate,
)
from opencompress.simulator.generate import Plan, plan_completion
from opencompress.simulator.ids import completion_id, request_id
from opencompress.simulator.openai_errors import (
    SimHTTPError,
    error_for_status,
    invalid_api_key,
    invalid_request,
)
from opencompress.simulator.render import DONE_EVENT, dumps, render_completion, render_stream_events
from opencompress.simulator.replay import parse_http_dump, resolve_recording, split_sse_events
from opencompress.simulator.state import SimState
from opencompress.simulator.streaming import SimStreamingResponse, install_drop_log_filter, paced_body

logger = logging.getLogger(__name__)

SSE_HEADERS = {"cache-control": "no-cache", "x-simulator": "opencompress"}
MODEL_IDS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o3-mini",
    "opencompress-sim",
)
MODELS_CREATED = 1_715_367_049
_ERROR_FILE_STATUS = re.compile(r"(?:^|/)error_(\d{3})_")


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj).encode(), status_code=status, headers=headers, media_type="application/json")


def error_response(error: SimHTTPError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def get_state(app: Starlette) -> SimState:
    state: SimState = app.state.sim
    return state


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _sleep_unless_disconnected(request: Request, state: SimState, seconds: float) -> str:
    """Sleep before sending any byte; returns "elapsed", "disconnected" or "closing"."""
    sleeper = asyncio.ensure_future(state.pause(seconds))
    watcher = asyncio.ensure_future(_wait_disconnect(request.receive))
    state.count("held_requests")
    try:
        done, pending = await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        state.count("held_requests", -1)
        for task in (sleeper, watcher):
            task.cancel()
    if watcher in done:
        return "disconnected"
    return "elapsed" if sleeper.result() else "closing"


def _check_key(state: SimState, authorization: str | None) -> None:
    if state.require_key is None:
        return
    scheme, _, token = (authorization or "").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(given.encode(), state.require_key.encode()):
        raise invalid_api_key(given or None)


def _parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


async def chat_completions(request: Request) -> Response:
    state = get_state(request.app)
    seq = state.saw_request(request.scope.get("client"), chat=True)
    raw = await request.body()
    body = _parse_body(raw)
    state.record(seq, request.method, request.url.path, request.headers, raw, body)
    try:
        _check_key(state, request.headers.get("authorization"))
        if not isinstance(body, dict):
            raise invalid_request(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
                "your HTTP library correctly. The OpenAI API expects a JSON payload.)"
            )
        spec = state.effective(parse_simulate(body.get("simulate")))
        return await _respond(request, state, spec, body, raw, seq)
    except SimHTTPError as error:
        return error_response(error)
    except Exception:
        logger.exception("simulator failed on a chat request")
        return error_response(
            error_for_status(500, model=str(body.get("model") if isinstance(body, dict) else ""))
        )


async def _respond(
    request: Request, state: SimState, spec: SimulateSpec, body: dict[str, Any], raw: bytes, seq: int
) -> Response:
    recording = resolve_recording(state.recordings_dir, spec.replay) if spec.replay is not None else None
    if spec.fault is not None:
        state.count("faults_injected")
    if spec.fault == "status":
        raise error_for_status(
            spec.status or 500,
            model=str(body.get("model") or "gpt-4o"),
            message=spec.message,
            retry_after=spec.retry_after,
        )
    if spec.fault == "timeout":
        outcome = await _sleep_unless_disconnected(request, state, spec.delay)
        if outcome == "disconnected":
            return Response(status_code=499)  # nobody is listening any more
        if outcome == "closing":
            raise SimHTTPError(503, "The simulator is shutting down.", type="server_error")
    latency = state.latency_s if spec.latency_s is None else spec.latency_s
    headers = dict(SSE_HEADERS, **{"x-request-id": request_id(raw, seq)})
    if recording is not None:
        return _replay(state, spec, recording, latency)
    if spec.fault == "garbage":
        if body.get("stream") is True:
            content = spec.body.encode() if spec.body is not None else DEFAULT_GARBAGE_SSE
            return Response(content, headers=headers, media_type="text/event-stream")
        content = spec.body.encode() if spec.body is not None else DEFAULT_GARBAGE_JSON
        return Response(
            content, status_code=spec.status or 200, headers=headers, media_type="application/json"
        )
    plan = plan_completion(body, hashlib.sha256(raw).hexdigest())
    cid, created = completion_id(raw, seq), int(time.time())
    if plan.stream:
        events = render_stream_events(plan, cid, created)
        stream = paced_body(events, trailer=DONE_EVENT, spec=spec, latency_s=latency, state=state)
        return SimStreamingResponse(stream, headers=headers, media_type="text/event-stream")
    return await _completion(state, spec, plan, cid, created, latency, headers)


async def _completion(
    state: SimState,
    spec: SimulateSpec,
    plan: Plan,
    cid: str,
    created: int,
    latency: float,
    headers: dict[str, str],
) -> Response:
    payload = dumps(render_completion(plan, cid, created)).encode()
    if spec.fault == "error_event":
        raise error_for_status(500, model=plan.model, message=spec.message)
    if spec.fault in ("drop", "hang_after"):
        # Headers promise the full length; half the body arrives, then the socket dies or stalls.
        half = len(payload) // 2
        pieces = [payload[:half], payload[half:]]
        body = paced_body(
            pieces,
            trailer=None,
            spec=replace(spec, after_chunks=1),
            latency_s=0.0,
            state=state,
            counted=False,
        )
        headers = dict(headers, **{"content-length": str(len(payload))})
        return SimStreamingResponse(body, headers=headers, media_type="application/json")
    if spec.fault == "slow":
        latency += spec.delay
    await state.pause(latency)
    return Response(payload, headers=headers, media_type="application/json")


def _replay(state: SimState, spec: SimulateSpec, path: Path, latency: float) -> Response:
    """Answer with a recording's bytes: SSE event by event, JSON and raw HTTP dumps in one piece."""
    state.count("replays")
    data = path.read_bytes()
    if path.suffix == ".sse":
        events = split_sse_events(data)
        stream = paced_body(events, trailer=None, spec=spec, latency_s=latency, state=state)
        return SimStreamingResponse(stream, headers=SSE_HEADERS, media_type="text/event-stream")
    if path.suffix == ".http":
        dump = parse_http_dump(data)
        return Response(
            dump.body, status_code=dump.status, headers=dump.headers, media_type=dump.content_type
        )
    match = _ERROR_FILE_STATUS.search(path.as_posix())
    status = spec.status or (int(match.group(1)) if match else 200)
    headers = {"Retry-After": f"{spec.retry_after:g}"} if status == 429 else None
    return Response(data, status_code=status, headers=headers, media_type="application/json")


def _model(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": MODELS_CREATED,
        "owned_by": "opencompress-simulator",
    }


async def list_models(request: Request) -> Response:
    get_state(request.app).saw_request(request.scope.get("client"), chat=False)
    return json_response({"object": "list", "data": [_model(m) for m in MODEL_IDS]})


async def get_model(request: Request) -> Response:
    get_state(request.app).saw_request(request.scope.get("client"), chat=False)
    model_id = request.path_params["model_id"]
    if model_id not in MODEL_IDS:
        return error_response(error_for_status(404, model=model_id))
    return json_response(_model(model_id))


async def health(request: Request) -> Response:
    return json_response({"status": "ok", "simulator": True})


async def sim_requests(request: Request) -> Response:
    state = get_state(request.app)
    if request.method == "DELETE":
        state.clear()
        return json_response({"cleared": True})
    return json_response(state.snapshot())


async def sim_stats(request: Request) -> Response:
    return json_response(get_state(request.app).counters())


async def sim_fault(request: Request) -> Response:
    """Arm a fault for the next ``count`` chat requests (``-1``: until ``DELETE /_sim/fault``)."""
    state = get_state(request.app)
    if request.method == "DELETE":
        state.clear_fault()
        return json_response({"armed": None})
    if request.method == "POST":
        try:
            raw = _parse_body(await request.body())
            if not isinstance(raw, dict):
                raise invalid_request("POST /_sim/fault expects a JSON object.")
            count = raw.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or (count < 1 and count != -1):
                raise invalid_request("count must be a positive integer or -1.", param="count")
            spec = parse_simulate(raw, extra_keys=frozenset({"count"}))
            if spec.fault is None and spec.replay is None:
                raise invalid_request("POST /_sim/fault needs a 'fault' or a 'replay'.", param="fault")
        except SimHTTPError as error:
            return error_response(error)
        state.set_fault(spec, count)
    return json_response({"armed": state.armed_fault()})


def create_app(
    *, recordings_dir: str | Path | None = None, latency_s: float = 0.0, require_key: str | None = None
) -> Starlette:
    """A fresh simulator app with its own state (``app.state.sim``).

    ``recordings_dir``: where ``simulate.replay`` paths are resolved (None: replays answer 404).
    ``latency_s``: default pause before each SSE event (and once before a non-streaming body).
    ``require_key``: when set, chat requests must carry ``Authorization: Bearer <require_key>``.
    """
    install_drop_log_filter()
    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/_sim/requests", sim_requests, methods=["GET", "DELETE"]),
        Route("/_sim/stats", sim_stats, methods=["GET"]),
        Route("/_sim/fault", sim_fault, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    directory = Path(recordings_dir) if recordings_dir is not None else None
    app.state.sim = SimState(recordings_dir=directory, latency_s=latency_s, require_key=require_key)
    return app
