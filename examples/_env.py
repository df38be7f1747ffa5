"""Shared by the examples: the client from API_BASE and API_KEY, and JSON printing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.models import to_api_value


def client_from_env() -> GpuManagementClient:
    base = os.environ.get("API_BASE", "http://localhost:8080/k8s-monitor/api/v1")
    return GpuManagementClient(base_url=base, api_key=os.environ.get("API_KEY") or None)


def show(title: str, value: Any) -> None:
    print(f"# {title}")
    print(json.dumps(to_api_value(value), indent=2, ensure_ascii=False))
