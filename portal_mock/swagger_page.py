"""Swagger UI's page, ready for "Try it out": pre-authorised with the development key.

Connexion renders the page from swagger-ui-bundle's template, which has no
place for the call that fills in a key (``ui.preauthorizeApiKey``, made once
the spec is loaded). So the page itself is answered here, with the same
assets Connexion serves beside it. A configured key is a secret and is never
written into the page: only the development key, which the banner prints too.
"""

from __future__ import annotations

import json

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{title}</title>
    <link rel="stylesheet" type="text/css" href="./swagger-ui.css" />
    <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32" />
    <style>html {{ box-sizing: border-box; overflow-y: scroll; }} body {{ margin: 0; }}</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script>
      window.onload = function () {{
        const key = {key};
        const ui = SwaggerUIBundle({{
          url: {spec_url},
          dom_id: "#swagger-ui",
          deepLinking: true,
          validatorUrl: null,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          plugins: [SwaggerUIBundle.plugins.DownloadUrl],
          layout: "StandaloneLayout",
          onComplete: function () {{
            if (key !== null) ui.preauthorizeApiKey({scheme}, key);
          }},
        }});
        window.ui = ui;
      }};
    </script>
  </body>
</html>
"""


class SwaggerPageMiddleware:
    """Answers ``GET {ui_path}/`` for each API with the page above; the rest goes on."""

    def __init__(
        self, app: ASGIApp, pages: dict[str, tuple[str, str]], scheme: str, key: str | None
    ) -> None:
        """``pages`` maps a UI path (``/ui/``) to its title and spec address."""
        self.app = app
        self.pages = pages
        self.scheme = scheme
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = self.pages.get(scope.get("path", "")) if scope["type"] == "http" else None
        if page is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        title, spec_url = page
        root = str(scope.get("root_path", "")).rstrip("/")
        html = PAGE.format(
            title=title,
            spec_url=json.dumps(root + spec_url),
            scheme=json.dumps(self.scheme),
            key=json.dumps(self.key),
        )
        await HTMLResponse(html)(scope, receive, send)
