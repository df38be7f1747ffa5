"""The error envelope as the seed writes it: ``details`` a string (or null), structured data under
``fields`` (validation) or ``context`` (everything else), whatever the raiser passed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from analytics.api.errors import handle_domain_error
from analytics.errors import (
    AllocationFailed,
    AnalyticsError,
    Forbidden,
    InsufficientResources,
    InvalidParameter,
    ValidationFailed,
)

pytestmark = pytest.mark.databases("sqlite")


def rendered(app: Flask, exc: AnalyticsError) -> tuple[int, dict[str, Any]]:
    with app.test_request_context():
        response = handle_domain_error(exc)
    error: dict[str, Any] = response.get_json()["error"]
    return response.status_code, error


def test_a_string_is_the_details(app: Flask) -> None:
    status, error = rendered(app, AllocationFailed("Taken.", "Retried 3 times; try again."))
    assert status == 409
    assert error == {
        "code": "ALLOCATION_FAILED",
        "message": "Taken.",
        "details": "Retried 3 times; try again.",
    }


def test_a_mapping_is_the_context(app: Flask) -> None:
    closest = {"closestCandidates": [{"resource": "gpu-worker-1-GPU-00", "memoryGb": 80}]}
    status, error = rendered(app, InsufficientResources("Nothing fits.", closest))
    assert status == 409
    assert error["details"] is None and error["context"] == closest and "fields" not in error
    _status, error = rendered(app, Forbidden("No.", {"role": "viewer", "requiredRole": "admin"}))
    assert error["context"] == {"role": "viewer", "requiredRole": "admin"}


def test_a_validation_errors_field_map_is_its_fields_and_its_details_sentence(app: Flask) -> None:
    fields = {"requiredMemoryGb": ["Must be greater than 0."], "podName": ["Missing data."]}
    status, error = rendered(app, ValidationFailed("Request body is invalid.", fields))
    assert status == 400
    assert error["fields"] == fields and "context" not in error
    assert error["details"] == "requiredMemoryGb: Must be greater than 0.; podName: Missing data."
    nested = {"allocations": {0: {"podName": ["Missing data."]}}}
    _status, error = rendered(app, InvalidParameter("Bad.", nested))
    assert error["details"] == "allocations.0.podName: Missing data."


def test_a_validation_errors_other_mapping_is_context(app: Flask) -> None:
    _status, error = rendered(app, InvalidParameter("hours must be 1-720.", {"hours": 9999}))
    assert error["context"] == {"hours": 9999} and "fields" not in error
    assert error["details"] is None


def test_keywords_and_a_later_assignment(app: Flask) -> None:
    exc = ValidationFailed(
        "Layout refused.", fields={"profileIds": ["No room."]}, context={"reason": "maxCount"}
    )
    _status, error = rendered(app, exc)
    assert error["fields"] == {"profileIds": ["No room."]}
    assert error["context"] == {"reason": "maxCount"}
    assert error["details"] == "profileIds: No room."
    # Older code sets details to a mapping after construction (the batch names its request).
    later = InsufficientResources("Nothing fits.", {"hint": "smaller"})
    later.details = {"index": 1, "podName": "p", **(later.context or {})}
    _status, error = rendered(app, later)
    assert error["details"] is None
    assert error["context"] == {"hint": "smaller", "index": 1, "podName": "p"}
