"""Running the app: health checks, the metrics scrape, retention, the operator's CLI and local runs.

Owns nothing a merchant sees: these are the operator's tools (gunicorn settings included).
"""
