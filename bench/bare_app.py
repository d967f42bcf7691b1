"""The floor: a bare Flask app that only reads the body and answers, served by the same gunicorn config."""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks")
    def receive() -> tuple[str, int]:
        request.get_data()
        return "", 200

    @app.post("/pixel")
    def beacon() -> tuple[str, int]:
        request.get_data()
        return "", 204

    return app
