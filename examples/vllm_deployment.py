"""Seed section 10.1: deploy a vLLM model: find a free GPU, allocate it, check the allocation,
watch utilisation, track the cost."""

from __future__ import annotations

import argparse

from _env import client_from_env, show


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cleanup", action="store_true", help="release the GPU at the end")
    args = parser.parse_args()
    with client_from_env() as client:
        # 1. available GPUs
        available = client.devices.list(status="available")
        print(f"1. {len(available)} GPUs available")

        # 2. allocate a whole GPU with 30 GB for the vLLM pod
        allocation = client.allocations.create(
            namespace="model-serving",
            pod_name="vllm-llama2-7b",
            workload_type="Inference",
            required_memory_gb=30,
            use_mig=False,
            user_id="ml-engineer-1",
            team_id="ml-team",
        )
        show("2. allocation", allocation)
        if allocation.kubernetes is not None:
            print(
                f"   pod spec: nodeSelector {allocation.kubernetes.node_selector}, "
                f"resources.limits {{{allocation.kubernetes.resource_name}: "
                f"{allocation.kubernetes.resource_count}}}"
            )

        # 3. allocation status
        listed = client.allocations.list(namespace="model-serving")
        print(f"3. {len(listed)} live allocations in model-serving")

        # 4. GPU utilisation over the last hour
        usage = client.metrics.usage_statistics(hours=1)
        device = usage.device_statistics.get(allocation.device_id or "")
        print(f"4. {allocation.device_id}: {device.avg_gpu_utilization if device else None} % busy")

        # 5. cost of the last day
        cost = client.cost.analyze(days=1)
        print(f"5. daily cost {cost.daily_cost} USD, by team {cost.cost_by_team}")

        if args.cleanup:
            client.allocations.release(allocation.allocation_id or "")
            print(f"released {allocation.allocation_id}")


if __name__ == "__main__":
    main()
