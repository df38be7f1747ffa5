"""Webhook endpoints: registration (secret write-only), listing, changes, the delivery log."""
