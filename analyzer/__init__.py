"""Analyzer: workers that share the cameras and run motion, person and face detection (see README.md)."""
