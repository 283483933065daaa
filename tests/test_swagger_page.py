"""Swagger UI's page: pre-authorised with the development key only, pointed at the mock."""

from __future__ import annotations

from typing import Any

from portal_mock.app import create_app
from portal_mock.settings import DEV_KEY, Settings
from portal_mock.store import LinkStore


def page_of(settings: Settings, path: str) -> str:
    store = LinkStore()
    with create_app(settings, store=store).test_client() as client:
        response = client.get(path)
    store.close()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text: str = response.text
    return text


def test_without_a_configured_key_the_ui_comes_authorised_with_the_development_key() -> None:
    page = page_of(Settings(db=None, fixtures=None, quiet=True), "/ui/")
    assert f'const key = "{DEV_KEY}";' in page
    assert 'ui.preauthorizeApiKey("ApiKeyAuth", key)' in page
    assert 'url: "/openapi.json"' in page


def test_a_configured_key_is_never_written_into_the_page() -> None:
    settings = Settings(db=None, fixtures=None, quiet=True, api_keys=("s3cret-key",))
    for path in ("/ui/", "/__mock/ui/"):
        page = page_of(settings, path)
        assert "s3cret-key" not in page
        assert DEV_KEY not in page
        assert "const key = null;" in page


def test_the_controls_ui_loads_the_controls_spec() -> None:
    page = page_of(Settings(db=None, fixtures=None, quiet=True), "/__mock/ui/")
    assert 'url: "/__mock/openapi.json"' in page


def test_the_served_spec_names_the_address_it_was_asked_for_at(client: Any) -> None:
    served = client.get("/openapi.json", headers={"Host": "mock.test:9000"}).json()
    assert served["servers"] == [{"url": "http://mock.test:9000"}]
