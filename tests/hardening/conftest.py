"""The analytics fixtures (apps on real SQLite, live gunicorn) for the hardening tests."""

from tests.analytics.conftest import (  # noqa: F401 (fixtures)
    app,
    client,
    live_server,
    make_app,
    settings,
)
