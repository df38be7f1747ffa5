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
        mimetype = response.mimetype
        wanted = {
            **HEADERS,
            "Content-Security-Policy": HTML_POLICY if mimetype == "text/html" else JSON_POLICY,
        }
        if mimetype == "application/json":
            wanted["Cache-Control"] = "no-store"
        # Headers a view set stay. One pass: werkzeug's setdefault scans every header per call.
        present = {name.lower() for name, _value in response.headers}
        response.headers.extend(
            [(name, value) for name, value in wanted.items() if name.lower() not in present]
        )
        return response
