"""Live video over WebRTC: one feed and one H.264 encoder per camera, shared by every viewer."""
