"""/metrics for Prometheus (text exposition format), for loopback clients and admins."""

from __future__ import annotations

from collections import Counter

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from posthouse.server.context import is_loopback
from posthouse.web.guard import current_auth
from posthouse.web.state import web_state


async def metrics(request: Request) -> Response:
    state = web_state(request)
    if not (request.client and is_loopback(request.client.host)):
        auth = await current_auth(request)
        if auth is None or not auth.user.is_admin:
            return PlainTextResponse("Not found", status_code=404)
    monitor = state.monitor
    for listener in monitor.status():
        monitor.connections.labels(listener.name).set(listener.connections)
    queue = await state.store.list_queue()
    monitor.queue_size.set(len(queue))
    states = Counter(r.state.value for entry in queue for r in entry.recipients)
    for name in ("pending", "delivered", "failed"):
        monitor.queue_recipients.labels(name).set(states.get(name, 0))
    return Response(generate_latest(monitor.registry), media_type=CONTENT_TYPE_LATEST)
