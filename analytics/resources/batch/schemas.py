"""Schemas of the batch endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import doc
from analytics.resources.allocations.schemas import AllocationRequestSchema, AllocationSchema

MAX_BATCH = 100


class BatchAllocationRequestSchema(Schema):
    allocations = fields.List(
        fields.Nested(AllocationRequestSchema),
        required=True,
        validate=validate.Length(1, MAX_BATCH),
        metadata=doc(f"Allocation requests, 1-{MAX_BATCH}, as for POST /gpu/allocations."),
    )


class BatchAllocationResultSchema(Schema):
    batch_id = fields.String(data_key="batchId", metadata=doc("Id shared by the batch."))
    allocations = fields.List(
        fields.Nested(AllocationSchema), metadata=doc("The allocations, in request order.")
    )
