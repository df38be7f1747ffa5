"""Synthetic hourly series with known structure, for the forecasting tests."""

from __future__ import annotations

import numpy as np

from analytics.forecasting.baseline import Array


def daily(days: int, seed: int = 1, noise: float = 2.0) -> Array:
    """A diurnal cycle (peak at 15:00) around 50 with Gaussian noise."""
    t = np.arange(days * 24)
    rng = np.random.default_rng(seed)
    return 50.0 + 30.0 * np.cos(2 * np.pi * (t - 15) / 24) + rng.normal(0.0, noise, len(t))


def weekly(days: int, seed: int = 2) -> Array:
    """A diurnal cycle plus a weekend drop (days 5 and 6 of each week)."""
    t = np.arange(days * 24)
    rng = np.random.default_rng(seed)
    weekend = ((t // 24) % 7 >= 5).astype(float)
    return 60.0 + 15.0 * np.cos(2 * np.pi * t / 24) - 25.0 * weekend + rng.normal(0, 1.0, len(t))


def white_noise(days: int, seed: int = 3) -> Array:
    rng = np.random.default_rng(seed)
    return 40.0 + rng.normal(0.0, 5.0, days * 24)


def trend_truth(t: Array) -> Array:
    """Noise-free: 20 + 0.1/h growth with a small daily swing."""
    return 20.0 + 0.1 * t + 2.0 * np.cos(2 * np.pi * t / 24)


def trending(days: int, seed: int = 4) -> Array:
    t = np.arange(days * 24, dtype=float)
    rng = np.random.default_rng(seed)
    return trend_truth(t) + rng.normal(0.0, 0.2, len(t))
