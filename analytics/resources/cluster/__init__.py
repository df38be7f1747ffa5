"""Cluster resource endpoints under /resources."""
