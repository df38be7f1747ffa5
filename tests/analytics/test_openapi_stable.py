"""The OpenAPI document is the same for every app a process makes (a gunicorn worker makes one;
a test process many): the first one used to miss the error envelope's timestamp type."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from analytics import create_app
from analytics.settings import Settings
from tests.conftest import ROOT

SCRIPT = """
import json, pathlib, sys, tempfile
from analytics import create_app
from analytics.settings import Settings
documents = []
for _ in range(2):
    with tempfile.TemporaryDirectory() as d:
        app = create_app(Settings(data_dir=pathlib.Path(d), sync_interval_seconds=0, forecast_warmup=False))
        documents.append(app.test_client().get("/k8s-monitor/api-docs").get_json())
json.dump(documents, sys.stdout)
"""


def test_first_and_second_app_of_a_fresh_process_serve_the_same_document() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    first, second = json.loads(out)
    assert first == second
    timestamp = first["components"]["schemas"]["ErrorEnvelope"]["properties"]["timestamp"]
    assert timestamp["type"] == "string" and timestamp["format"] == "date-time"
    # ... and the same as this (long-lived) test process makes.
    with tempfile.TemporaryDirectory() as d:
        app = create_app(Settings(data_dir=Path(d), sync_interval_seconds=0, forecast_warmup=False))
        assert app.test_client().get("/k8s-monitor/api-docs").get_json() == first
