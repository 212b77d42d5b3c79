"""The whole run: stages, provinces, results, a run killed mid-way, the package structure (no import cycle)."""
