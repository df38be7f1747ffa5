"""Cost endpoints under /gpu/cost."""
