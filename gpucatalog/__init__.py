"""The GPU model catalogue and MIG geometry: pure data shared by the simulator and the service."""

from gpucatalog.mig import MigProfile, mig_profiles
from gpucatalog.models import GpuModel, MODELS, model_by_id, model_for_product_name

__all__ = [
    "MODELS",
    "GpuModel",
    "MigProfile",
    "mig_profiles",
    "model_by_id",
    "model_for_product_name",
]
