"""API keys: made, listed and revoked by operators (`python -m gateway.keys`), verified on every request."""
