"""Ingest: RTSP, file and demo sources decoded to JPEG frames on one Redis stream per camera."""
