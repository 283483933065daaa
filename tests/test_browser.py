"""In a real browser (Debian's headless Chromium): a page on another origin, and Swagger UI."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import AUTH, BASE, WORKORDER
from playwright.sync_api import Browser, Page, sync_playwright

pytestmark = pytest.mark.slow

# The app a frontend developer would write: list, create (a preflighted request,
# with the key and JSON) and read back, each result shown on the page.
APP_PAGE = """<!DOCTYPE html>
<html><body>
<p>links: <span id="count"></span></p>
<p>created at: <span id="location"></span></p>
<p>read back: <span id="read"></span></p>
<p>error: <span id="error"></span></p>
<script>
const api = new URLSearchParams(location.search).get("api");
const key = {"X-API-Key": "dev-key"};
const show = (id, text) => { document.getElementById(id).textContent = text; };
async function run() {
  const list = await (await fetch(`${api}/workorder-portal-links`, {headers: key})).json();
  show("count", String(list.paging.total));
  const created = await fetch(`${api}/workorder-portal-links`, {
    method: "POST",
    headers: {...key, "Content-Type": "application/json"},
    body: JSON.stringify({workorder: "WORKORDER", company_namespace: ["browser-test"]}),
  });
  const link = (await created.json()).data;
  show("location", created.headers.get("Location"));
  const one = await fetch(`${api}/workorder-portal-links/${link._id}`, {headers: key});
  const read = await one.json();
  show("read", `${read.data._id} ${read.data.workorder} ${read.data.company_namespace}`);
}
run().catch((error) => show("error", String(error)));
</script>
</body></html>
""".replace("WORKORDER", WORKORDER)


def chromium_path() -> str:
    found = shutil.which("chromium")
    assert found, "Debian's chromium is needed for the browser tests (apt-get install chromium)"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Root (as CI runs) cannot use Chromium's sandbox.
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[str]:
    """``http://localhost:PORT``: a static server for the app page, apart from the mock."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(APP_PAGE, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_page_on_another_origin_lists_creates_and_reads_back_with_fetch(
    run_server: Callable[..., Any], page: Page, other_origin: str
) -> None:
    mock = run_server("--db", "db.json")
    fixtures = httpx.get(f"{mock.url}{BASE}", headers=AUTH).json()["paging"]["total"]
    page.goto(f"{other_origin}/index.html?api={mock.url}")
    shown = "id => document.getElementById(id).textContent"
    page.wait_for_function(f"({shown})('read') || ({shown})('error')")
    assert page.text_content("#error") == ""
    assert page.text_content("#count") == str(fixtures)
    link_id = page.text_content("#read").split()[0]
    assert page.text_content("#read") == f"{link_id} {WORKORDER} browser-test"
    assert page.text_content("#location") == f"{BASE}/{link_id}"
    stored = httpx.get(f"{mock.url}{BASE}/{link_id}", headers=AUTH)
    assert stored.json()["data"]["company_namespace"] == ["browser-test"]


def test_swagger_ui_try_it_out_lists_links_without_asking_for_a_key(
    run_server: Callable[..., Any], page: Page
) -> None:
    mock = run_server("--db", "db.json")
    page.goto(f"{mock.url}/ui/")
    operation = page.locator("#operations-Workorder_Portal_Links-listWorkorderPortalLinks")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    live = operation.locator(".live-responses-table tbody .response-col_status")
    live.first.wait_for()
    assert live.first.text_content().strip() == "200"
    body = operation.locator(".live-responses-table tbody .response-col_description pre").first
    assert '"success": true' in body.text_content()
    server_box = page.locator(".servers select option").first
    assert server_box.text_content().strip() == mock.url
