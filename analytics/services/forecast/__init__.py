"""Forecasts of GPU demand and cluster resources, and their warm-up."""
