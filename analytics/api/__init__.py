"""HTTP plumbing shared by every resource: envelope, error mapping, auth, rate limits, ops."""
