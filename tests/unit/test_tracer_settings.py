"""X-Ray keeps no handler response: every traced handler and method says capture_response=False.

Powertools' Tracer records a decorated function's return value as trace metadata unless told
not to; here that would be Web Connector tickets and qbXML with customers' names and addresses,
OAuth pages and sync outcomes. The decorators are read from the source (``ast``), so a new
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
            quiet = call is not None and any(
                keyword.arg == "capture_response"
                and isinstance(keyword.value, ast.Constant)
                and keyword.value.value is False
                for keyword in call.keywords
            )
            found.append((target.attr, decorator.lineno, quiet))
    return found


def test_the_reader_tells_a_capturing_decorator_from_a_quiet_one() -> None:
    source = (
        "@tracer.capture_lambda_handler\ndef a(e, c): ...\n"
        "@tracer.capture_method(capture_response=True)\ndef b(): ...\n"
        "@tracer.capture_method(capture_error=False)\ndef c(): ...\n"
        "@tracer.capture_lambda_handler(capture_response=False)\ndef d(e, c): ...\n"
    )
    assert tracer_decorators(source) == [
        ("capture_lambda_handler", 1, False),
        ("capture_method", 3, False),
        ("capture_method", 5, False),
        ("capture_lambda_handler", 7, True),
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
    assert not capturing, f"add capture_response=False: {capturing}"
