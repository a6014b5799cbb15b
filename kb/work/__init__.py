"""My work (issue 17): what waits for one person across the domains, on one page.

``actions`` gathers it through each domain's public actions (documents: drafts, versions in review,
rejected ones with the reason, promoted answers waiting; social: questions asked and answered;
notifications: what one watches; search: the content gaps citizens' picks show, for owners and admins); ``api`` serves it at ``GET /api/v1/me/work``. It sits above the
domains it reads and holds no rule of its own: each domain decides what is the person's.
"""
