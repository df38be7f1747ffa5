"""postman-collection.json stays in step with the OpenAPI document the code serves."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("postman", ROOT / "scripts" / "postman.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_collection_matches_the_served_openapi_document() -> None:
    postman = load_script()
    document = postman.served_document()
    committed = (ROOT / "postman-collection.json").read_text()
    assert committed == postman.render(document), "stale: run scripts/postman.py"
    collection = json.loads(committed)
    requests_ = [item for folder in collection["item"] for item in folder["item"]]
    operations = sum(
        1 for item in document["paths"].values() for method in item if method in postman.METHODS
    )
    assert len(requests_) == operations
    base = next(v["value"] for v in collection["variable"] if v["key"] == "baseUrl")
    assert base == "http://localhost:8080/k8s-monitor/api/v1"
    allocate = next(
        r
        for r in requests_
        if r["request"]["url"]["raw"] == "{{baseUrl}}/gpu/allocations"
        and r["request"]["method"] == "POST"
    )
    body = json.loads(allocate["request"]["body"]["raw"])
    assert body["podName"] and body["requiredMemoryGb"] > 0
    mig = next(
        r
        for r in requests_
        if r["request"]["url"]["path"] == ["gpu", "mig", "devices", ":deviceId"]
        and r["request"]["method"] == "POST"
    )
    assert mig["request"]["url"]["variable"] == [
        {"key": "deviceId", "value": "gpu-worker-1-GPU-00"}
    ]


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    postman = load_script()
    stale = tmp_path / "collection.json"
    stale.write_text("{}\n")
    assert postman.main(["--check", "--output", str(stale)]) == 1
    assert postman.main(["--output", str(stale)]) == 0
    assert postman.main(["--check", "--output", str(stale)]) == 0
