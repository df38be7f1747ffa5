"""Allocation endpoints under /gpu/allocations."""
