"""The exporter's base exception; each integration module derives its own from it."""


class ExporterError(Exception):
    """Something the exporter cannot do; the message is one line fit for an operator."""
