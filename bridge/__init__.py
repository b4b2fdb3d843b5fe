"""The bridge: camstream's events and camera states out to MQTT (with Home Assistant discovery),
webhooks and notifications, in a process of its own so an outage there touches nothing else."""
