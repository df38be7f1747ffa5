"""Who may call: API keys and rate limits."""
