"""The service's identifiers of GPUs and MIG instances, formatted in one place."""

from __future__ import annotations


def device_id_for(node_name: str, device_index: int) -> str:
    """``{node}-GPU-{index:02d}``: a GPU's id in the inventory and every answer."""
    return f"{node_name}-GPU-{device_index:02d}"


def device_id_of(node_name: str, gpu_label: str) -> str | None:
    """:func:`device_id_for` from a series' ``gpu`` label; None when it is not an index."""
    return device_id_for(node_name, int(gpu_label)) if gpu_label.isdigit() else None


def mig_instance_id(device_id: str, number: int) -> str:
    """``{deviceId}-MIG-{nn:02d}``: a MIG instance's id."""
    return f"{device_id}-MIG-{number:02d}"
