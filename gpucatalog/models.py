"""GPU models we know: NVML product names, memory, architecture, MIG capability, default price."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    model_id: str
    display_name: str
    product_names: tuple[str, ...]
    memory_gb: int
    architecture: str
    mig_capable: bool
    # USD per GPU-hour, median of public on-demand offers; None where no public price was found.
    default_price_per_hour: float | None
    price_source: str
    # Simulator and sanity defaults: board power limit and idle draw, watts.
    power_limit_w: float
    idle_power_w: float
    # The temperature (°C) above which the model counts as overheating.
    overheat_threshold_c: float
    max_clock_sm_mhz: int
    max_clock_mem_mhz: int


_PRICE_SOURCE = "median of public on-demand offers, read 2026"

MODELS: tuple[GpuModel, ...] = (
    GpuModel(
        "A100_40GB",
        "NVIDIA A100 40GB",
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB"),
        40,
        "Ampere",
        True,
        2.74,
        _PRICE_SOURCE,
        400.0,
        55.0,
        85.0,
        1410,
        1215,
    ),
    GpuModel(
        "A100_80GB",
        "NVIDIA A100 80GB",
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"),
        80,
        "Ampere",
        True,
        2.29,
        _PRICE_SOURCE,
        400.0,
        60.0,
        85.0,
        1410,
        1593,
    ),
    GpuModel(
        "H100_80GB",
        "NVIDIA H100 80GB",
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe"),
        80,
        "Hopper",
        True,
        3.99,
        _PRICE_SOURCE,
        700.0,
        70.0,
        87.0,
        1980,
        2619,
    ),
    GpuModel(
        "H200_141GB",
        "NVIDIA H200 141GB",
        ("NVIDIA H200",),
        141,
        "Hopper",
        True,
        5.00,
        _PRICE_SOURCE,
        700.0,
        75.0,
        87.0,
        1980,
        3201,
    ),
    GpuModel(
        "A30_24GB",
        "NVIDIA A30",
        ("NVIDIA A30",),
        24,
        "Ampere",
        True,
        None,
        "no public on-demand offer found",
        165.0,
        30.0,
        85.0,
        1440,
        1215,
    ),
    GpuModel(
        "L4",
        "NVIDIA L4",
        ("NVIDIA L4",),
        24,
        "Ada Lovelace",
        False,
        0.80,
        _PRICE_SOURCE,
        72.0,
        16.0,
        80.0,
        2040,
        6251,
    ),
    GpuModel(
        "RTX4090",
        "NVIDIA GeForce RTX 4090",
        ("NVIDIA GeForce RTX 4090",),
        24,
        "Ada Lovelace",
        False,
        0.44,
        _PRICE_SOURCE,
        450.0,
        25.0,
        83.0,
        2520,
        10501,
    ),
)

_BY_ID = {m.model_id: m for m in MODELS}
_BY_PRODUCT = {name.lower(): m for m in MODELS for name in m.product_names}


def model_by_id(model_id: str) -> GpuModel:
    """The model with this id; KeyError when we do not know it."""
    return _BY_ID[model_id]


def model_for_product_name(product_name: str) -> GpuModel | None:
    """Map an NVML product name (``nvmlDeviceGetName``) to a catalogue model, or None."""
    return _BY_PRODUCT.get(product_name.strip().lower())
