"""Pure functions over study result tables: EDFs, correlations, drivers, structure, plots, report."""
