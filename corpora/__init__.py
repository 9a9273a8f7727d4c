"""Datasets and pipelines: readers, stages, recipes, engines, writers."""
