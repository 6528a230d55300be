"""Attain: self-hosted sales operations."""

__version__ = "0.1.0"
