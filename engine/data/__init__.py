"""Datasets: catalog, loading, format conversion, stats, filters, dedup, decontamination."""
