"""Seed section 10.2: MIG management: find MIG-capable GPUs, carve a layout, list the free
instances, allocate one for a notebook."""

from __future__ import annotations

import argparse
import os

from _env import client_from_env, show


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--device",
        default=os.environ.get("MIG_DEVICE", "gpu-worker-1-GPU-00"),
        help="GPU to carve (env MIG_DEVICE; default gpu-worker-1-GPU-00, as in the seed)",
    )
    parser.add_argument(
        "--cleanup", action="store_true", help="release the slice and remove the layout at the end"
    )
    args = parser.parse_args()
    with client_from_env() as client:
        # 1. MIG-capable GPUs
        a100s = client.devices.list(model_id="A100_80GB")
        print(f"1. {sum(1 for d in a100s if d.mig_support)} A100 80GB GPUs support MIG")

        # 2. create MIG instances (PENDING until the GPU operator has applied them)
        layout = client.mig.create(args.device, ["1g.10gb", "2g.20gb", "4g.40gb"])
        show("2. layout", layout.desired_layout)
        if layout.mig_config is not None:
            print(
                f"   apply with label {layout.mig_config.label_key}={layout.mig_config.label_value}"
            )

        # 3. free MIG instances
        free = client.mig.available()
        print(f"3. {len(free)} free MIG instances")

        # 4. allocate a 10 GB instance for a notebook
        allocation = client.allocations.create(
            namespace="development",
            pod_name="jupyter-notebook",
            workload_type="Development",
            use_mig=True,
            required_memory_gb=10,
        )
        show("4. allocation", allocation)

        if args.cleanup:
            client.allocations.release(allocation.allocation_id or "")
            client.mig.delete(args.device)
            print(f"released {allocation.allocation_id}, removed the layout of {args.device}")


if __name__ == "__main__":
    main()
