"""Running the real parts around the product for the demo, tests and benchmarks (Prometheus, ...)."""
