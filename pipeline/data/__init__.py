"""Datasets: readers for raw formats, packed stores, splits, variants, loaders, synthetic data."""
