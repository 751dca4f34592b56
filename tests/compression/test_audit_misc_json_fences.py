"""json_embedded never rewrites JSON inside a fenced code block (only ```json fences hold data)."""

from __future__ import annotations

from opencompress.compression import Policy, compress
from opencompress.compression.stages.json_minify import minify_embedded

PRETTY = '{\n  "id": 7,\n  "status": "ok"\n}'


def test_json_in_a_string_literal_of_a_python_fence_is_untouched() -> None:
    text = f'Snapshot:\n\n```python\nEXPECTED = """\n{PRETTY}\n"""\nassert render() == EXPECTED\n```\n\nWhy?'
    assert minify_embedded(text) == text


def test_the_audit_case_at_lossless_through_the_pipeline() -> None:
    u1 = (
        "I have a snapshot test and I keep getting a mismatch, here is the relevant part of the file so "
        'you can see the expected output exactly as it is written:\n\n```python\nEXPECTED_REPORT = """\n'
        f'{PRETTY}\n"""\nassert render() == EXPECTED_REPORT\n```\n\nWhy does my output not match?'
    )
    msgs = [
        {"role": "user", "content": u1},
        {"role": "assistant", "content": "Can you show render()?"},
        {"role": "user", "content": "It returns json.dumps(report, indent=2)."},
    ]
    out = compress(msgs, policy=Policy(level="lossless")).messages[0]["content"]
    assert PRETTY in out


def test_untagged_tilde_and_unclosed_code_fences_are_untouched() -> None:
    for fence in (f"```\n{PRETTY}\n```", f"~~~js\nconst x =\n{PRETTY}\n~~~", f"```ts\nlet x =\n{PRETTY}\n"):
        text = "Look:\n" + fence + "\nthanks"
        assert minify_embedded(text) == text


def test_json_fences_and_json_outside_fences_are_still_minified() -> None:
    text = f"Data:\n```json\n{PRETTY}\n```\n```python\nx = 1\n```\nMore:\n{PRETTY}\nend"
    small = '{"id":7,"status":"ok"}'
    want = f"Data:\n```json\n{small}\n```\n```python\nx = 1\n```\nMore:\n{small}\nend"
    assert minify_embedded(text) == want
