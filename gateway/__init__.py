"""Gateway: to be built (see the issues)."""
