"""The GPU model catalogue and MIG geometry: pure data shared by the simulator and the service."""

from gpucatalog.mig import MigProfile, mig_profiles
from gpucatalog.models import MODELS, GpuModel, model_by_id, model_for_product_name
from gpucatalog.placement import (
    MigLayoutError,
    Placement,
    free_memory_slices,
    mig_config_name,
    mig_parted_config,
    mig_parted_yaml,
    resource_name,
    stranded_slices,
    validate_layout,
)

__all__ = [
    "MODELS",
    "GpuModel",
    "MigLayoutError",
    "MigProfile",
    "Placement",
    "free_memory_slices",
    "mig_config_name",
    "mig_parted_config",
    "mig_parted_yaml",
    "mig_profiles",
    "model_by_id",
    "model_for_product_name",
    "resource_name",
    "stranded_slices",
    "validate_layout",
]
