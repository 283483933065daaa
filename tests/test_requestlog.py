"""The line per request on the terminal: what it says, in text or JSON, and what it never says."""

from __future__ import annotations

import io
import json
import re

import pytest
from conftest import AUTH, BASE, WORKORDER

from portal_mock.app import create_app
from portal_mock.requestlog import Entry, RequestLog, format_text, printer, redact_query
from portal_mock.settings import Settings
from portal_mock.store import LinkStore

ENTRY = Entry(
    time="2026-12-03T09:30:01.123Z",
    method="GET",
    path=BASE,
    query="page=2",
    status=404,
    milliseconds=3.14,
    session="run-1",
)


def serve_some(settings: Settings) -> tuple[str, str]:
    """Create a link, list with a key in the query, fail one request; return token and key used."""
    with create_app(settings, store=LinkStore()).test_client(headers=AUTH) as client:
        link = client.post(BASE, json={"workorder": WORKORDER}).json()["data"]
        client.get(BASE, params={"api_key": "query-secret"}, headers={"X-Mock-Session": "run-1"})
        client.post(f"{BASE}/{link['_id']}/regenerate")
        client.get(BASE, headers={"X-API-Key": "wrong-key"})
    return link["access_token"], "query-secret"


def test_one_text_line_per_request_with_time_method_path_status_ms_and_session(
    capsys: pytest.CaptureFixture[str],
) -> None:
    serve_some(Settings(db=None, fixtures=None))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    pattern = r"\d\d:\d\d:\d\d\.\d{3} (GET|POST) /\S+ \d{3} \d+\.\d ms \S+"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert f" POST {BASE} 201 " in lines[0]
    assert lines[1].endswith(" run-1")
    assert " 400 " in lines[1]
    assert lines[3].endswith(" -")
    assert " 401 " in lines[3]


def test_log_lines_never_hold_a_key_or_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    token, query_key = serve_some(Settings(db=None, fixtures=None))
    out = capsys.readouterr().out
    for secret in (token, query_key, AUTH["X-API-Key"], "wrong-key"):
        assert secret not in out


def test_json_format_gives_one_object_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    token, _ = serve_some(Settings(db=None, fixtures=None, log_format="json"))
    out = capsys.readouterr().out
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["method"], e["status"], e["session"]) for e in entries] == [
        ("POST", 201, None),
        ("GET", 400, "run-1"),
        ("POST", 200, None),
        ("GET", 401, None),
    ]
    assert set(entries[0]) == {"time", "method", "path", "query", "status", "milliseconds",
                               "session"}  # fmt: skip
    assert token not in out


def test_quiet_prints_nothing_but_still_records(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(db=None, fixtures=None, quiet=True)
    with create_app(settings, store=LinkStore()).test_client(headers=AUTH) as client:
        client.get(BASE)
        recorded = client.get("/__mock/requests").json()["data"]
    assert capsys.readouterr().out == ""
    assert [e["path"] for e in recorded] == [BASE]


def test_a_terminal_gets_colours_and_a_pipe_does_not() -> None:
    plain, coloured = format_text(ENTRY, colour=False), format_text(ENTRY, colour=True)
    assert plain == f"09:30:01.123 GET {BASE}?page=2 404 3.1 ms run-1"
    assert "\x1b[33m404\x1b[0m" in coloured
    assert re.sub(r"\x1b\[\d+m", "", coloured) == plain

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    printer("text", terminal)(ENTRY)
    printer("text", pipe)(ENTRY)
    assert "\x1b[" in terminal.getvalue()
    assert "\x1b[" not in pipe.getvalue()


def test_control_characters_in_a_path_cannot_drive_the_terminal() -> None:
    entry = Entry(**{**ENTRY._asdict(), "path": "/x\x1b[2Jy", "query": ""})
    assert "\x1b" not in format_text(entry, colour=False)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("page=2&link_type=secure", "page=2&link_type=secure"),
        ("api_key=abc&page=2", "api_key=%5Bredacted%5D&page=2"),
        ("access_token=abc", "access_token=%5Bredacted%5D"),
        ("X-API-Key=abc", "X-API-Key=%5Bredacted%5D"),
    ],
    ids=["nothing-secret", "api_key", "access_token", "header-name"],
)
def test_query_values_named_like_secrets_are_redacted(query: str, expected: str) -> None:
    assert redact_query(query) == expected


def test_the_request_log_is_bounded_and_newest_first() -> None:
    log = RequestLog(size=3)
    for number in range(5):
        log.add(Entry(**{**ENTRY._asdict(), "status": 200 + number}))
    assert [e.status for e in log.recent(10)] == [204, 203, 202]
    assert [e.status for e in log.recent(2)] == [204, 203]
