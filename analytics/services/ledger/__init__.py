"""The allocation ledger: allocations, fitting requests to devices, expiry, the periodic allocation sweep and reconciliation with what runs."""
