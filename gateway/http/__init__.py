"""HTTP plumbing of the gateway: TLS certificates (tls.py), the bounded request head (protocol.py),
the body limit (limits.py), the OpenAPI schema's security (openapi.py) and a short page cache."""
