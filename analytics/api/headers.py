"""Security headers on every response.

JSON answers are never sniffed as HTML, never framed and never cached by shared caches (they can
carry inventory and cost data). The Swagger page keeps working: it loads only local assets, so
its policy allows nothing from elsewhere.
"""

from __future__ import annotations

from flask import Flask, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Swagger UI runs inline bootstrap code and styles from our own origin only.
HTML_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        html = response.mimetype == "text/html"
        response.headers.setdefault("Content-Security-Policy", HTML_POLICY if html else JSON_POLICY)
        if response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
