"""A whole-text back-reference names one earlier text (outside audit, unseen agent traces).

ReAct agents start every observation with "Observation:", and some frameworks reuse ``call_0``
for every tool call. A back-reference by first line or call id then fitted several earlier texts,
and the model could read a re-check of one host as "unchanged" from another."""

from __future__ import annotations

from typing import Any

from opencompress.compression import Policy, compress


def _compress(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return compress(messages, policy=Policy(level="lossless")).messages  # type: ignore[arg-type,return-value]


def _status(host: str, uptime: int) -> str:
    rows = "\n".join(f"service {name} on {host}: running, restarts 0" for name in ("api", "worker", "cron"))
    return f"host: {host}\nuptime: {uptime}s\nload average: 0.42 0.40 0.38\n{rows}\nnginx config test: ok"


def _calls(*hosts: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for host in hosts:
        out.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "status", "arguments": f'{{"host": "{host}"}}'},
                    }
                ],
            }
        )
    return out


def test_a_reused_call_id_quotes_a_line_only_that_result_has() -> None:
    a, b = _status("web-01", 31), _status("web-02", 61)
    calls = _calls("web-01", "web-02", "web-01")
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Check web-01 and web-02, then web-01 again."}
    ]
    for call, result in zip(calls, (a, b, b), strict=True):
        messages += [call, {"role": "tool", "tool_call_id": "call_0", "content": result}]
    out = _compress(messages)
    marker = out[-1]["content"]
    assert marker.startswith("[… identical to the earlier result of tool call call_0 containing")
    quoted = marker.split('containing "', 1)[1].split('"', 1)[0]
    assert quoted in b and quoted not in a


def test_a_shared_first_line_quotes_a_line_only_that_message_has() -> None:
    staging = "Observation:\n" + _status("staging-1", 100)
    prod = "Observation:\n" + _status("prod-1", 200)
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a ReAct agent."}]
    for observation in (staging, prod, prod):
        messages += [
            {"role": "assistant", "content": "Thought: read it.\nAction: status"},
            {"role": "user", "content": observation},
        ]
    messages.append({"role": "assistant", "content": "Thought: compare."})
    messages.append({"role": "user", "content": "Go on."})
    out = _compress(messages)
    marker = out[6]["content"]
    assert marker.startswith('[… identical to the earlier user message starting "Observation:" containing')
    quoted = marker.split('containing "', 1)[1].split('"', 1)[0]
    assert quoted in prod and quoted not in staging


def test_a_unique_description_is_unchanged() -> None:
    a = _status("web-01", 31)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Check web-01 twice."}]
    for call in _calls("web-01", "web-01"):
        messages += [call, {"role": "tool", "tool_call_id": "call_0", "content": a}]
    assert _compress(messages)[-1]["content"] == "[… identical to the earlier result of tool call call_0 …]"


def test_no_distinguishing_line_gives_no_whole_text_reference() -> None:
    a = _status("web-01", 31)
    b = a + "\nextra"  # every line of b's is in a, or too short to quote
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Check."}]
    for call, result in zip(_calls("x", "y", "z"), (b, a, a), strict=True):
        messages += [call, {"role": "tool", "tool_call_id": "call_0", "content": result}]
    out = _compress(messages)
    assert "identical to" not in out[-1]["content"]  # line blocks may still fold, by their lines
