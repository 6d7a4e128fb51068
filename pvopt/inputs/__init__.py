"""Inputs layer: the portfolio schema, loading and file resolution, load and price profiles (no pvlib, no Pyomo)."""
