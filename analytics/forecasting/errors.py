"""Errors of the forecasting package: one base, one for a model that cannot be fitted."""

from __future__ import annotations


class ForecastingError(Exception):
    """Base of the forecasting package's errors."""


class ModelFitError(ForecastingError):
    """A model could not be fitted to a series (too short, degenerate, did not converge)."""
