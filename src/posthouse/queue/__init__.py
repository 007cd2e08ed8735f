"""Outbound delivery: route a domain (static route, smarthost or MX), dial it, deliver
with the SMTP client core, retry on a growing schedule, bounce with an RFC 3464 DSN.

routes.py decides where mail for a domain goes; dial.py opens and prepares a
connection (EHLO, STARTTLS, AUTH); connection.py drives the sans-IO client core over
a socket; transaction.py sends one message to many recipients of one domain;
scheduler.py takes due entries from the store and updates them with the results;
dsn.py writes delivery status notifications and bounce.py hands them to the store.
"""
