"""Batch endpoints under /batch."""
