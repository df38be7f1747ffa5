"""GPU inventory endpoints under /gpu/devices."""
