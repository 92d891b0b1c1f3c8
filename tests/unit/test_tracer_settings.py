"""X-Ray keeps no handler response or error: every traced handler and method says
capture_response=False, capture_error=False; every handler's logger starts each invocation clean.

Powertools' Tracer records a decorated function's return value, and an exception with its
message, as trace metadata unless told not to; here that would be Web Connector tickets and
qbXML with customers' names and addresses, OAuth pages, sync outcomes and QuickBooks faults that
quote customer names (the error stays in the function's log, and X-Ray still marks the fault). The decorators are read from the source (``ast``), so a new
handler or a new ``capture_method`` is held to the rule without being imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACED = ("capture_lambda_handler", "capture_method")
SOURCES = sorted(
    [*ROOT.glob("functions/*/handler.py"), *(ROOT / "shared" / "connector").rglob("*.py")]
)


def tracer_decorators(source: str) -> list[tuple[str, int, bool]]:
    """(decorator, line, keeps the response out of the trace) for each Tracer decorator."""
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call is not None else decorator
            if not (isinstance(target, ast.Attribute) and target.attr in TRACED):
                continue
            off = {
                keyword.arg
                for keyword in (call.keywords if call is not None else [])
                if isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            }
            quiet = {"capture_response", "capture_error"} <= off
            found.append((target.attr, decorator.lineno, quiet))
    return found


def test_the_reader_tells_a_capturing_decorator_from_a_quiet_one() -> None:
    source = (
        "@tracer.capture_lambda_handler\ndef a(e, c): ...\n"
        "@tracer.capture_method(capture_response=True)\ndef b(): ...\n"
        "@tracer.capture_method(capture_error=False)\ndef c(): ...\n"
        "@tracer.capture_lambda_handler(capture_response=False)\ndef d(e, c): ...\n"
        "@tracer.capture_lambda_handler(capture_response=False, capture_error=False)\n"
        "def e(e, c): ...\n"
    )
    assert tracer_decorators(source) == [
        ("capture_lambda_handler", 1, False),
        ("capture_method", 3, False),
        ("capture_method", 5, False),
        ("capture_lambda_handler", 7, False),
        ("capture_lambda_handler", 9, True),
    ]


def test_every_handler_is_traced() -> None:
    handlers = [p for p in SOURCES if p.name == "handler.py"]
    assert len(handlers) >= 6
    for path in handlers:
        names = [name for name, _, _ in tracer_decorators(path.read_text(encoding="utf-8"))]
        assert "capture_lambda_handler" in names, f"{path.relative_to(ROOT)} is not traced"


def test_no_traced_function_puts_its_response_into_the_trace() -> None:
    capturing = [
        f"{path.relative_to(ROOT)}:{line} @tracer.{name}"
        for path in SOURCES
        for name, line, quiet in tracer_decorators(path.read_text(encoding="utf-8"))
        if not quiet
    ]
    assert not capturing, f"add capture_response=False, capture_error=False: {capturing}"


def test_no_handler_carries_log_labels_into_the_next_invocation() -> None:
    # A warm container keeps the logger: without clear_state an earlier record's labels
    # (connection, record id, Web Connector method) would mark the next invocation's lines.
    for path in [p for p in SOURCES if p.name == "handler.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        injections = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "inject_lambda_context"
        ]
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "inject_lambda_context"
            and any(
                k.arg == "clear_state" and isinstance(k.value, ast.Constant) and k.value.value
                for k in node.keywords
            )
        ]
        assert injections and len(calls) == len(injections), (
            f"{path.relative_to(ROOT)}: inject_lambda_context(clear_state=True)"
        )
