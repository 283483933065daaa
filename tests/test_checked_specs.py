"""Connexion checks a spec text once: a start on the same text skips its check, an edited
or invalid one is always checked, and a failure is never remembered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import connexion.spec
import pytest
from connexion.exceptions import InvalidSpecification

from portal_mock.app import create_app
from portal_mock.paths import DEFAULT_SPEC
from portal_mock.settings import Settings
from portal_mock.store import LinkStore


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """The specs Connexion's check runs on, with the cache in a folder of the test's own."""
    monkeypatch.setenv("PORTAL_MOCK_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[Any] = []
    real = connexion.spec.create_spec_validator

    def counted(spec: Any) -> Any:
        seen.append(spec["info"]["title"])
        return real(spec)

    monkeypatch.setattr(connexion.spec, "create_spec_validator", counted)
    return seen


def start(spec: Path = DEFAULT_SPEC) -> None:
    store = LinkStore()
    try:
        create_app(Settings(db=None, fixtures=None, spec=spec), store=store)
    finally:
        store.close()


def test_the_same_spec_text_is_checked_once(checks: list[Any], tmp_path: Path) -> None:
    start()
    assert sorted(checks) == ["Workorder Portal Link API", "portal-mock controls"]
    start()
    assert len(checks) == 2, "a second start checked an unchanged spec again"
    edited = tmp_path / "edited.yaml"
    text = DEFAULT_SPEC.read_text(encoding="utf-8")
    edited.write_text(text.replace("title: Workorder Portal Link API", "title: Edited"), "utf-8")
    start(edited)
    assert checks[2:] == ["Edited"]


def test_an_invalid_spec_is_refused_every_time(checks: list[Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = DEFAULT_SPEC.read_text(encoding="utf-8")
    broken.write_text(text.replace("      in: header", "      in: nowhere", 1), "utf-8")
    for _ in range(2):
        with pytest.raises(InvalidSpecification):
            start(broken)
    assert checks.count("Workorder Portal Link API") == 2


def test_without_a_writable_cache_every_start_checks(
    checks: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("PORTAL_MOCK_CACHE_DIR", str(blocker / "cache"))
    start()
    start()
    assert checks.count("Workorder Portal Link API") == 2
