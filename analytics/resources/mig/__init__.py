"""MIG layout endpoints under /gpu/mig."""
