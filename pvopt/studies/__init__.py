"""Studies on top of single plans: scenario sweeps, weather risk, metered actuals."""
