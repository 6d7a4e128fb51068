"""PV layer: weather readers, the synthetic typical year and the hourly yield (the only pvlib importer)."""
