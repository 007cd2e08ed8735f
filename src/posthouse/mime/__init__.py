"""Parsing and building messages."""
