"""GPU metrics endpoints (/gpu/metrics, /gpu/health, /gpu/overview): the fleet join, live values, usage, overheating, health and overview."""
