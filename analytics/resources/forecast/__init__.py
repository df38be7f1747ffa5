"""Forecast endpoints: /gpu/forecast and /resources/forecast."""
