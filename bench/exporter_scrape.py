"""Scrape latency and memory of a real ``gpu-exporter`` process on simulated GPUs.

Two fleets, generated here:
  (a) one node, 8 x H100 time-sliced 13 ways, 100 pods (vLLM, SGLang, training, notebooks)
  (b) one node, 8 x A100 80GB each carved into 7 x 1g.10gb, 56 pods on the MIG slices
For each, the exporter runs as its own process (all sampling stages on: NVML every second,
processes, kubelet gRPC, Kubernetes API) and is scraped N times over one keep-alive connection
with Prometheus's headers (gzip, scrape timeout). Prints p50/p99/max latency and the process's
RSS after warm-up, at its peak and at the end, so growth over the run shows; then keeps scraping
at 10/s for --soak seconds while sampling continues, and reports RSS again.

Most of those scrapes are served from the per-snapshot cache (sampling runs every second). A
real Prometheus scraping every 15 s always misses it, so the cost of a miss (render + gzip of
a fresh snapshot, in-process) is measured separately and printed as "render".

The background GPM profiling stage (issue 20; exporter.gpm: one GPM sample and one metrics call
per Hopper GPU and MIG GPU instance per cycle) is timed in-process over --gpm-cycles cycles and
printed per cycle and per GPU as "gpm stage"; fleet (b)'s A100s have no GPM, so its figure is
the cost of knowing that (support is asked once per GPU).

    python bench/exporter_scrape.py [--scrapes 10000] [--soak 60] [--renders 1000]
                                    [--gpm-cycles 200] [--smoke]

``--smoke`` runs both fleets the same way with tiny counts (50 scrapes, a 1 s soak, 20
renders), in seconds: a check that the benchmark still runs, not a measurement.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import options  # bench/options.py
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HEADERS = {
    "Accept": "text/plain;version=0.0.4;q=0.9,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
_SERVING = [
    ("vllm", "vllm/vllm-openai:v0.6.3", ["--model", "meta-llama/Llama-2-7b-chat-hf"]),
    (
        "sglang",
        "lmsysorg/sglang:v0.3.0",
        ["python", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen2-7B-Instruct"],
    ),
    ("train", "pytorch/pytorch:2.4.0", ["python", "train.py"]),
    ("nb", "jupyter/base-notebook", ["start-notebook.sh"]),
]
_WORKLOADS = ["inference", "inference", "training", "notebook"]
# --smoke's counts: every stage and figure of a full run, in seconds.
SMOKE = {"scrapes": 50, "soak": 1.0, "renders": 20, "gpm_cycles": 5}
# The node is a DGX-class host (2 x 112 cores, 2 TiB), and each pod holds a slice of one GPU,
# so it asks for a slice-sized share of the host: 100 pods at the simulator's per-workload
# defaults (16 cores, 128 GiB for training) would request 650 cores and 4,200 GiB, which the
# fleet validator rightly refuses. The exporter does not read requests; the scrape is the same.
NODE_CAPACITY = {"cpu_cores": 224, "memory_gib": 2048}
POD_REQUESTS = {"cpu_request": 2, "memory_request_gib": 16}


def _pod(n: int, container: dict[str, Any]) -> dict[str, Any]:
    kind, image, args = _SERVING[n % len(_SERVING)]
    return {
        "name": f"{kind}-{n:03d}-7d9f8c6b5-x{n:04d}"[:63],
        "namespace": ["model-serving", "research", "training", "development"][n % 4],
        "image": image,
        "args": args,
        "workload": _WORKLOADS[n % 4],
        "gpu_memory_gib": 4,
        **POD_REQUESTS,
        "containers": [{"name": "main", **container}],
    }


def fleet_pods() -> dict[str, Any]:
    pods = [_pod(n, {"replicas": [[n % 8, n // 8]]}) for n in range(100)]
    return {
        "seed": 7,
        "epoch": "2026-01-01T00:00:00Z",
        "nodes": [
            {
                "name": "bench-pods",
                **NODE_CAPACITY,
                "gpus": [{"model": "H100_80GB", "count": 8, "time_slicing_replicas": 13}],
                "pods": pods,
            }
        ],
    }


def fleet_mig() -> dict[str, Any]:
    pods = [_pod(n, {"mig": [[n // 7, n % 7]]}) for n in range(56)]
    return {
        "seed": 7,
        "epoch": "2026-01-01T00:00:00Z",
        "nodes": [
            {
                "name": "bench-mig",
                **NODE_CAPACITY,
                "gpus": [{"model": "A100_80GB", "count": 8, "mig": ["1g.10gb"] * 7}],
                "pods": pods,
            }
        ],
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render_cost(fleet_path: Path, node: str, renders: int = 1000) -> list[float]:
    """Milliseconds to render + gzip a snapshot with a cold cache, from the real sampler."""
    from exporter.kube import KubePodSource
    from exporter.nvml import NvmlReader
    from exporter.podresources.client import PodResourcesClient
    from exporter.sampler import Sampler
    from exporter.server import ExpositionCache
    from simulator.exporter import NodeSimulation

    with NodeSimulation(fleet_path, node) as sim:
        pods = KubePodSource(node, api_url=sim.kube_api_url)
        client = PodResourcesClient(sim.socket_path)
        sampler = Sampler(
            node, NvmlReader(sim.nvml), pod_devices=client, pods=pods, proc_root=sim.proc_root
        )
        for stage in (
            sampler.run_nvml_stage,
            sampler.run_kubernetes_stage,
            sampler.run_pod_resources_stage,
            sampler.run_processes_stage,
        ):
            stage()
        snapshot = sampler.snapshot()
        assert snapshot is not None
        timings = []
        for _ in range(renders):
            started = time.perf_counter()
            ExpositionCache().get(snapshot, openmetrics_format=False, gzipped=True)
            timings.append((time.perf_counter() - started) * 1000)
        client.close()
        pods.close()
    return timings


def gpm_stage_cost(fleet_path: Path, node: str, cycles: int = 200) -> tuple[list[float], int, int]:
    """Milliseconds of each background gpm stage run (the sampler's own stage timing, what
    gpu_exporter_stage_duration_seconds{stage="gpm"} exports), the GPUs with GPM, and the
    targets sampled per cycle (GPUs and MIG GPU instances)."""
    from exporter.gpm import GpmReader
    from exporter.nvml import NvmlReader
    from exporter.sampler import Sampler
    from simulator.exporter import NodeSimulation

    with NodeSimulation(fleet_path, node) as sim:
        reader = NvmlReader(sim.nvml)
        gpm = GpmReader(sim.nvml)
        sampler = Sampler(node, reader, profiler=gpm)
        sampler.run_nvml_stage()
        sampler.run_gpm_stage()  # support queries, buffer allocation and the baseline sample
        taken = sim.nvml.gpm.samples_taken
        timings = []
        for _ in range(cycles):
            sampler.run_gpm_stage()
            snapshot = sampler.snapshot()
            assert snapshot is not None
            stage = next(s for s in snapshot.stages if s.stage == "gpm")
            timings.append(stage.duration_seconds * 1000)
        targets = (sim.nvml.gpm.samples_taken - taken) // max(1, cycles)
        supported = sum(s.supported for s in snapshot.profiling_support)
        gpm.close()
        reader.shutdown()
    return timings, supported, targets


def run_case(
    label: str, fleet: dict[str, Any], scrapes: int, soak: float, renders: int, gpm_cycles: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump(fleet))
        node = fleet["nodes"][0]["name"]
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.exporter",
                "--simulated-fleet",
                str(path),
                "--node-name",
                node,
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit(f"{label}: exporter did not start") from None
                    time.sleep(0.2)
            proc = psutil.Process(process.pid)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            latencies: list[float] = []
            sizes: list[int] = []
            rss: list[int] = []
            warmup = min(500, scrapes // 10)
            for i in range(scrapes + warmup):
                started = time.perf_counter()
                conn.request("GET", "/metrics", headers=HEADERS)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise SystemExit(f"{label}: scrape {i} answered {response.status}")
                if i >= warmup:
                    latencies.append(elapsed * 1000)
                    sizes.append(len(body))
                if i % 250 == 0 and i >= warmup:
                    rss.append(proc.memory_info().rss)
            rss.append(proc.memory_info().rss)
            soak_end = time.monotonic() + soak
            while time.monotonic() < soak_end:
                conn.request("GET", "/metrics", headers=HEADERS)
                conn.getresponse().read()
                time.sleep(0.1)
            soak_rss = proc.memory_info().rss
            conn.close()
            cpu = proc.cpu_times()
            plain = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
            series = sum(1 for line in plain.splitlines() if line and not line.startswith(b"#"))
        finally:
            process.terminate()
            process.wait(timeout=10)
        render_ms = render_cost(path, node, renders)
        gpm_ms, gpm_gpus, gpm_targets = gpm_stage_cost(path, node, gpm_cycles)
    gpus = sum(g.get("count", 1) for g in fleet["nodes"][0]["gpus"])
    mib = 1024 * 1024
    print(
        f"({label}) {scrapes} scrapes, {series} series, {statistics.mean(sizes) / 1024:.1f} KiB "
        f"gzipped ({len(plain) / 1024:.0f} KiB plain)"
    )
    print(
        f"    latency ms: p50 {statistics.median(latencies):.3f}  p99 {_pct(latencies, 0.99):.3f}"
        f"  max {max(latencies):.3f}"
    )
    print(
        f"    RSS MiB: after warm-up {rss[0] / mib:.1f}  peak {max(rss) / mib:.1f}  "
        f"end {rss[-1] / mib:.1f}  (growth {(rss[-1] - rss[0]) / mib:+.1f}); "
        f"after a {soak:.0f} s soak {soak_rss / mib:.1f}"
    )
    print(
        f"    render (cache miss, in-process) ms: p50 {statistics.median(render_ms):.3f}  "
        f"p99 {_pct(render_ms, 0.99):.3f}"
    )
    print(
        f"    gpm stage (background, in-process) ms per cycle: p50 "
        f"{statistics.median(gpm_ms):.3f}  p99 {_pct(gpm_ms, 0.99):.3f}; per GPU p50 "
        f"{statistics.median(gpm_ms) / gpus:.4f}; {gpm_targets} targets sampled on "
        f"{gpm_gpus} of {gpus} GPUs"
    )
    print(f"    exporter CPU seconds in all: user {cpu.user:.1f} system {cpu.system:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scrapes", type=int, default=10_000)
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of slow scraping")
    parser.add_argument("--renders", type=int, default=1000, help="cache-miss renders timed")
    parser.add_argument("--gpm-cycles", type=int, default=200, help="gpm stage runs timed")
    args = options.parse(parser, SMOKE)
    for label, fleet in (("a: 8 GPUs, 100 pods", fleet_pods()), ("b: 8 GPUs x 7 MIG", fleet_mig())):
        run_case(label, fleet, args.scrapes, args.soak, args.renders, args.gpm_cycles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
