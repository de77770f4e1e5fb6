"""Metrics: NLL of a run on data; musical statistics of generated music."""
