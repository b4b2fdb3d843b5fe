"""What ingest, analyzer and gateway share: settings, camera file, Redis keys, message schemas, logging."""
