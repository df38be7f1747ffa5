"""``python -m k8s_gpu_client.cli``: the same as ``gpuctl``."""

from __future__ import annotations

import sys

from k8s_gpu_client.cli import main

sys.exit(main())
