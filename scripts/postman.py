"""Generate postman-collection.json (seed section 12) from the service's OpenAPI document.

    PYTHONPATH=. .venv/bin/python scripts/postman.py            # rewrite postman-collection.json
    PYTHONPATH=. .venv/bin/python scripts/postman.py --check    # exit 1 if it is stale
    PYTHONPATH=. .venv/bin/python scripts/postman.py --url http://HOST:8080/k8s-monitor/api-docs

By default the document comes from the app built in-process (``create_app`` on a temporary
data directory), so the collection follows the code; tests/sdk/test_postman.py fails when the
committed file differs. One folder per OpenAPI tag, one request per operation, in the
document's order; ``{{baseUrl}}`` and ``{{apiKey}}`` are collection variables (Bearer auth),
path parameters are Postman ``:variables`` with the document's example value, query parameters are listed
(disabled unless required), and JSON bodies are built from the schemas' examples.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "postman-collection.json"
API_PREFIX = "/k8s-monitor/api/v1"
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")


def served_document() -> dict[str, Any]:
    """The OpenAPI document of the app as the code builds it now."""
    from analytics import create_app
    from analytics.settings import Settings

    with tempfile.TemporaryDirectory(prefix="postman-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir), sync_interval_seconds=0, rate_limit_storage="memory"
        )
        response = create_app(settings).test_client().get("/k8s-monitor/api-docs")
        document: dict[str, Any] = response.get_json()
    return document


def fetched_document(url: str) -> dict[str, Any]:
    import requests

    response = requests.get(url, timeout=30)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or "allOf" in schema:
        ref = schema["$ref"] if "$ref" in schema else schema["allOf"][0]["$ref"]
        schema = components[ref.rsplit("/", 1)[-1]]
    return schema


def example_of(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """An example value: the schema's own example, else one built from its properties."""
    schema = _resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        required = set(schema.get("required", []))
        return {
            name: example_of(prop, components, depth + 1)
            for name, prop in schema.get("properties", {}).items()
            if name in required or "example" in _resolve(prop, components)
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), components, depth + 1)]
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 1, "number": 1.0, "boolean": True, "string": ""}.get(kind or "")


def _request(
    method: str, path: str, operation: dict[str, Any], shared: list[dict[str, Any]], doc: Any
) -> dict[str, Any]:
    components = doc["components"]["schemas"]
    # The document's paths are relative to its server URL, as {{baseUrl}} is.
    segments = [
        f":{s[1:-1]}" if s.startswith("{") and s.endswith("}") else s
        for s in path.strip("/").split("/")
    ]
    parameters = [*shared, *operation.get("parameters", [])]
    query = [
        {
            "key": p["name"],
            "value": str(example_of(p.get("schema", {}), components) or ""),
            "description": p.get("description", ""),
            "disabled": not p.get("required", False),
        }
        for p in parameters
        if p.get("in") == "query"
    ]
    variables = [
        {"key": p["name"], "value": str(p.get("example", p["name"]))}
        for p in parameters
        if p.get("in") == "path"
    ]
    raw = "{{baseUrl}}/" + "/".join(segments)
    enabled = [q for q in query if not q["disabled"]]
    if enabled:
        raw += "?" + "&".join(f"{q['key']}={q['value']}" for q in enabled)
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Accept", "value": "application/json"}],
        "url": {"raw": raw, "host": ["{{baseUrl}}"], "path": segments},
        "description": operation.get("description", operation.get("summary", "")),
    }
    if query:
        request["url"]["query"] = query
    if variables:
        request["url"]["variable"] = variables
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(example_of(body["schema"], components), indent=2),
            "options": {"raw": {"language": "json"}},
        }
    return {"name": operation.get("summary", f"{method.upper()} {path}"), "request": request}


def server_url(document: dict[str, Any]) -> str:
    """The base path the document's paths are relative to."""
    servers = document.get("servers") or [{"url": API_PREFIX}]
    url: str = servers[0]["url"]
    return url.rstrip("/")


def collection(document: dict[str, Any]) -> dict[str, Any]:
    """A Postman v2.1 collection of every operation, one folder per tag."""
    folders: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in document.get("tags", [])}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(_request(method, path, operation, shared, document))
    descriptions = {t["name"]: t.get("description", "") for t in document.get("tags", [])}
    info = document["info"]
    return {
        "info": {
            "name": info["title"],
            "description": info.get("description", ""),
            "version": info.get("version", ""),
            "schema": SCHEMA_URL,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}],
        },
        "variable": [
            {"key": "baseUrl", "value": "http://localhost:8080" + server_url(document)},
            {"key": "apiKey", "value": ""},
        ],
        "item": [
            {"name": name, "description": descriptions.get(name, ""), "item": items}
            for name, items in folders.items()
            if items
        ],
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(collection(document), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--url", help="read the OpenAPI document from a running service")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="collection file")
    args = parser.parse_args(argv)
    document = fetched_document(args.url) if args.url else served_document()
    text = render(document)
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/postman.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    operations = sum(len(folder["item"]) for folder in collection(document)["item"])
    print(f"wrote {args.output} ({operations} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
