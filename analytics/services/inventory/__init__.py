"""The GPU inventory: devices, MIG layouts, and the sync from the exporters' series."""
