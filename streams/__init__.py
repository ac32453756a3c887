"""The integrator streams: the log's events as a feed (``feed``: SSE, long-polling), to
webhooks (``webhooks``), to NATS (``nats``), started together by the service
(``integrations``); and the follower that checks a log from outside (``follow``,
``follow_tiles``). The rooms and the arrows between them: docs/architecture.md."""
