"""The /gpu metric endpoints, files following the URL tree: /gpu/metrics/* (metrics.py), /gpu/overview and /gpu/health (overview.py), their schemas (schemas.py, also read by /gpu/devices)."""
