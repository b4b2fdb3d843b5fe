"""Analyzer: to be built (see the issues)."""
