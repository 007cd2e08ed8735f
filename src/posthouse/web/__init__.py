"""Webmail, account settings, admin console, autoconfig, metrics and the JSON API."""
