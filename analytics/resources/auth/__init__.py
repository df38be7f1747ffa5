"""Accounts and credentials: token issue, users (admin), API keys (admin)."""
