"""LP layer: LP inputs, hour reductions, the Pyomo model, the HiGHS hand-over and the solution (the only Pyomo/highspy importer)."""
