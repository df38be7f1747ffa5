"""Cost: usage from Prometheus, the cost model and its split, analysis and optimisation, budgets."""
