"""Notifications (issue 17): who is told what, in the in-app inbox, by e-mail and by webhook.

Inside, from the top: ``api`` > ``actions`` (the use cases every surface calls) > ``service`` (the
rule table from audit events to recipients, inbox, watches, preferences, the daily jobs) >
``outbox`` (delivery with retries) > ``schemas`` > ``models``. Reads other domains' tables to find
recipients; no other domain imports this package (the composition root installs it).
"""
