"""kb.experts: expert location: who can answer this, with the evidence; profiles, asking an expert, the inbox.

Inside, from the top: ``api`` (HTTP routes) > ``actions`` (the use cases every surface calls: the
permission rows, the webhook) > ``service`` (Model 2 scoring and the per-object rules) > ``schemas``
> ``models``. Reads documents, the community and search; nothing imports it except the app, the web
UI and the CLI.
"""
