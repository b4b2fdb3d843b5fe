"""The cameras as the gateway keeps them: stored and validated through the API (store.py), their
live parts kept in step with the database (live.py), the camera file and the external registry
followed (file_watch.py, registry.py), and a camera probed before it is added (probe.py)."""
