"""WSGI entry point: ``gunicorn wsgi:app`` (the Procfile uses the factory directly)."""

from app import create_app

app = create_app()
