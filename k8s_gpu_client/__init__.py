"""The Python SDK of the K8s GPU Management API (seed section 7.1).

>>> from k8s_gpu_client import GpuManagementClient
>>> client = GpuManagementClient(base_url="http://HOST:8080/k8s-monitor/api/v1", api_key="KEY")
>>> devices = client.devices.list()

It depends on ``requests`` only and imports nothing of the service.
"""

from __future__ import annotations

from k8s_gpu_client._http import RateLimit
from k8s_gpu_client._version import __version__
from k8s_gpu_client.client import DEFAULT_BASE_URL, GpuManagementClient
from k8s_gpu_client.errors import (
    ERROR_CLASSES,
    AllocationFailedError,
    ApiError,
    CostLimitExceededError,
    ForbiddenError,
    GpuClientError,
    GpuNotAvailableError,
    InsufficientResourcesError,
    InternalServerError,
    InvalidParameterError,
    MethodNotAllowedError,
    MetricsUnavailableError,
    MigNotSupportedError,
    PayloadTooLargeError,
    RateLimitExceededError,
    RequestTimeoutError,
    ResourceAlreadyExistsError,
    ResourceNotFoundError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationError,
    error_from_response,
)
from k8s_gpu_client.models.allocations import AllocationRequest
from k8s_gpu_client.models.paging import Page, Pagination

__all__ = [
    "DEFAULT_BASE_URL",
    "ERROR_CLASSES",
    "AllocationFailedError",
    "AllocationRequest",
    "ApiError",
    "CostLimitExceededError",
    "ForbiddenError",
    "GpuClientError",
    "GpuManagementClient",
    "GpuNotAvailableError",
    "InsufficientResourcesError",
    "InternalServerError",
    "InvalidParameterError",
    "MethodNotAllowedError",
    "MetricsUnavailableError",
    "MigNotSupportedError",
    "Page",
    "Pagination",
    "PayloadTooLargeError",
    "RateLimit",
    "RateLimitExceededError",
    "RequestTimeoutError",
    "ResourceAlreadyExistsError",
    "ResourceNotFoundError",
    "ServiceUnavailableError",
    "TransportError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "__version__",
    "error_from_response",
]
