"""The status page (`GET /api/ui`): the fleet's matrix of assets x workspaces, a detail panel per cell,
the plan of a scope, and for the provider approve and "sync now" buttons; docs/dashboard.md.

Who calls it: functions/http_api.py, which registers `PUBLIC` (the page and its script and style sheet,
which hold no data) and `ROUTES` (the fragments, dispatched by shared.api.dispatch like the API's own
routes: same function key, principal, rate limit and errors). The modules: `matrix` and `detail` (what a
caller sees, decided by the status route's own functions), `render` (templates, security headers) and
`routes`. Server-rendered HTML; static/dashboard.js only fetches fragments and calls the API.
"""

from shared.ui.routes import PUBLIC, ROUTES, PublicRoute

__all__ = ["PUBLIC", "ROUTES", "PublicRoute"]
