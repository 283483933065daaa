"""``portal-mock export`` and ``import``: a store moved between backends, byte for byte."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pg_cluster import _free_port, fresh_database

from portal_mock.cli import main
from portal_mock.store import LinkStore
from portal_mock.store.postgres import PostgresLinkStore

# Beside the time-budgeted broken-variant runs, never at the same time (test_store_backends).
pytestmark = pytest.mark.xdist_group("broken-variants")
GOOD = b'{"_id":"64a1b2c3d4e5f6a7b8c9d0e1","workorder":"64a1b2c3d4e5f6a7b8c9d0e1"}'


def link(n: int) -> dict[str, Any]:
    return {
        "workorder": f"64a1b2c3d4e5f6a7b8c9d0e{n % 10}",
        "link_type": ["public", "private", "secure"][n % 3],
        "is_active": n % 2 == 0,
        "expiry_date": None if n % 2 else f"2030-01-0{n % 9 + 1}T08:00:00+02:00",
        "company_namespace": [["acme"], ["globex", "acme"], []][n % 3],
        # Keys out of order (jsonb reorders them), unicode, floats, large integers.
        "metadata": {"z": [1, 2.5, -0.1], "a": {"ü": "snow ☃\u2028", "big": 2**62 + n}, "n": n},
    }


def store_at(path: Path, count: int) -> list[dict[str, Any]]:
    store = LinkStore(path)
    try:
        for n in range(count):
            store.create(link(n))
        return sorted(store.export(), key=lambda found: found["_id"])
    finally:
        store.close()


def exported(db: Path | str) -> list[dict[str, Any]]:
    store = LinkStore(db) if isinstance(db, Path) else PostgresLinkStore(db)
    try:
        return sorted(store.export(), key=lambda found: found["_id"])
    finally:
        store.close()


@pytest.fixture
def pg_url(pg_server: str) -> str:
    return fresh_database(pg_server)


def test_embedded_to_postgresql_and_back_is_byte_identical(tmp_path: Path, pg_url: str) -> None:
    original = store_at(tmp_path / "a.json", 7)
    first, second, third = (tmp_path / name for name in ("1.jsonl", "2.jsonl", "3.jsonl"))
    assert main(["export", "--db", str(tmp_path / "a.json"), "--output", str(first)]) == 0
    assert main(["import", "--db", pg_url, "--input", str(first)]) == 0
    assert main(["export", "--db", pg_url, "--output", str(second)]) == 0
    assert main(["import", "--db", str(tmp_path / "b.json"), "--input", str(second)]) == 0
    assert main(["export", "--db", str(tmp_path / "b.json"), "--output", str(third)]) == 0
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()
    assert first.read_bytes().count(b"\n") == 7
    assert exported(pg_url) == exported(tmp_path / "b.json") == original
    store = PostgresLinkStore(pg_url)
    try:
        assert store.create(link(9))["_id"] > original[-1]["_id"], "later ids stay above"
    finally:
        store.close()


def test_stdout_and_stdin(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = store_at(tmp_path / "a.json", 3)
    assert main(["export", "--db", str(tmp_path / "a.json")]) == 0
    out, err = capsysbinary.readouterr()
    assert err.decode().startswith("portal-mock export: exported 3 links from ")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n" + out + b"\n\n")))
    assert main(["import", "--db", str(tmp_path / "b.json"), "--input", "-"]) == 0
    assert b"imported 3 links into " in capsysbinary.readouterr().err
    assert exported(tmp_path / "b.json") == original


def test_a_store_that_holds_links_is_refused_without_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = store_at(tmp_path / "a.json", 2)
    (tmp_path / "in.jsonl").write_bytes(GOOD + b"\n")
    code = main(["import", "--db", str(tmp_path / "a.json"), "--input",
                          str(tmp_path / "in.jsonl")])  # fmt: skip
    assert code == 2
    assert "already holds 2 links" in capsys.readouterr().err
    assert exported(tmp_path / "a.json") == held


def test_replace_drops_what_the_store_held(tmp_path: Path, pg_url: str) -> None:
    source = store_at(tmp_path / "a.json", 3)
    store = PostgresLinkStore(pg_url)
    store.add([link(n) for n in range(5)])
    store.close()
    lines = tmp_path / "in.jsonl"
    assert main(["export", "--db", str(tmp_path / "a.json"), "--output", str(lines)]) == 0
    assert main(["import", "--db", pg_url, "--input", str(lines), "--replace"]) == 0
    assert exported(pg_url) == source


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"_id":"64a1b2c3d4e5f6a7b8c9d0e2","x":NaN}', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"workorder":"64a1b2c3d4e5f6a7b8c9d0e1"}', "no _id"),
        (b'{"_id":"64A1B2C3D4E5F6A7B8C9D0E2"}', "no _id"),
        (b'{"_id":"64a1b2c3"}', "no _id"),
        (b'{"_id":12}', "no _id"),
        (GOOD[:-1] + b',"expiry_date":"soon"}', "a link the store cannot index"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: bytes, reason: str
) -> None:
    held = store_at(tmp_path / "a.json", 2)
    # The bad line is the third: a blank line still counts.
    (tmp_path / "in.jsonl").write_bytes(GOOD + b"\n\n" + bad + b"\n")
    code = main(["import", "--db", str(tmp_path / "a.json"), "--replace", "--input",
                          str(tmp_path / "in.jsonl")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"line 3: {reason}" in err
    assert exported(tmp_path / "a.json") == held


def test_a_link_the_database_refuses_writes_nothing(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The table wants a workorder; the embedded store does not, so the line is valid.
    (tmp_path / "in.jsonl").write_bytes(GOOD + b"\n" + b'{"_id":"64a1b2c3d4e5f6a7b8c9d0e2"}\n')
    assert main(["import", "--db", pg_url, "--input", str(tmp_path / "in.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "nothing written, the database refused a link: " in err
    assert err.count("\n") == 1
    assert exported(pg_url) == []


def test_duplicate_ids_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.jsonl").write_bytes(b"\n".join([GOOD, GOOD.replace(b"e1", b"e2", 1), GOOD]))
    code = main(["import", "--db", str(tmp_path / "a.json"), "--input",
                          str(tmp_path / "in.jsonl")])  # fmt: skip
    assert code == 2
    assert "duplicate _id: 64a1b2c3d4e5f6a7b8c9d0e1 (lines 1, 3)" in capsys.readouterr().err
    assert exported(tmp_path / "a.json") == []


def test_a_store_a_server_holds_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_at(tmp_path / "a.json", 1)
    held = LinkStore(tmp_path / "a.json")
    try:
        assert main(["export", "--db", str(tmp_path / "a.json")]) == 2
    finally:
        held.close()
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "in use by another portal-mock process" in err


def test_an_unreachable_database_never_shows_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://portal:s3cret@127.0.0.1:{_free_port()}/portal"
    (tmp_path / "in.jsonl").write_bytes(GOOD + b"\n")
    assert main(["import", "--db", url, "--input", str(tmp_path / "in.jsonl")]) == 2
    assert main(["export", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2
    assert "portal:***@127.0.0.1" in err
    assert "s3cret" not in err


def test_exporting_no_store_makes_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", str(tmp_path / "typo.json")]) == 2
    assert "no store at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_pipe_between_two_processes(tmp_path: Path) -> None:
    original = store_at(tmp_path / "a.json", 4)
    command = [sys.executable, "-m", "portal_mock"]
    # --db from PORTAL_MOCK_DB on the exporting side.
    env = {**os.environ, "PORTAL_MOCK_DB": str(tmp_path / "a.json")}
    out = subprocess.run([*command, "export"], env=env, capture_output=True, check=True).stdout
    loaded = subprocess.run([*command, "import", "--db", str(tmp_path / "b.json")],
                            input=out, capture_output=True, check=True)  # fmt: skip
    assert loaded.stderr.decode().startswith("portal-mock import: imported 4 links into ")
    assert exported(tmp_path / "b.json") == original
