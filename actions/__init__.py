"""Rasa SDK actions. Thin: each one reads the tracker, calls into `bot`, and emits events."""
