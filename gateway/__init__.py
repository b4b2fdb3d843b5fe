"""Gateway: the camera REST API, live video over WebRTC, the events API."""
