"""The account owner's dashboard: server-rendered pages over the same services as the REST API.

``create_app`` adds :data:`routes` (``/login``, ``/logout``, ``/dashboard/...`` and the static
files under ``/dashboard/static``). Pages are Jinja templates with no build step and no request
to any other host; the one chart is SVG drawn on the server (:mod:`.chart`).
"""

from opencompress.dashboard.routes import routes

__all__ = ["routes"]
