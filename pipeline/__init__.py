"""Moves data and runs jobs: study loading, sampling, dataset preparation, training, fan-out, collection."""
