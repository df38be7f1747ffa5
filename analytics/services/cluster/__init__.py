"""Cluster resources (/resources): pods, nodes, namespaces, usage, statistics and cluster health."""
