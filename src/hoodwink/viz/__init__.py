"""Figures (matplotlib): one module per picture, imported lazily by the commands."""
