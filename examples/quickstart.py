"""Seed section 7.1: the Python SDK snippet, with base URL and key from the environment."""

from __future__ import annotations

import argparse

from _env import client_from_env, show


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cleanup", action="store_true", help="release the allocation at the end")
    args = parser.parse_args()
    with client_from_env() as client:
        # GPU devices
        devices = client.devices.list()
        print(f"{len(devices)} GPUs: {', '.join(d.device_id or '?' for d in devices[:4])} ...")

        # allocate a GPU (here a MIG instance with 20 GB)
        allocation = client.allocations.create(
            namespace="model-serving",
            pod_name="vllm-pod",
            workload_type="Inference",
            required_memory_gb=20,
            use_mig=True,
        )
        show("allocation", allocation)

        # cost analysis
        cost_analysis = client.cost.analyze(days=30)
        show("cost analysis (30 days)", cost_analysis)

        if args.cleanup:
            client.allocations.release(allocation.allocation_id or "")
            print(f"released {allocation.allocation_id}")


if __name__ == "__main__":
    main()
