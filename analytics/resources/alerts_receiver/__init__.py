"""The Alertmanager webhook receiver: alerts in, events (and webhook deliveries) out."""
