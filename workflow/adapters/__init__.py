"""Adapters: the database, mail transports, templates and files."""
