"""Who may use the gateway: passwords, sessions and tokens, the request guard, login limits.

Authentication happens once, in the Guard middleware, for every HTTP request and WebSocket
(routes, mounts, docs), so a route added later is protected without doing anything; roles are
checked by router-level dependencies (gateway.auth.deps). docs/security.md describes the model.
"""
