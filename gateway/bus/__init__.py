"""The gateway's side of the Redis bus: its one door to Redis (store.py), and the shared readers
(hubs.py, on fanout.py) that read each camera's frames, packets and audio and the event channel
once for every client."""
