"""Builds the web server of a running instance: its pages read through the core, its catalog from SQLite."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bots.instance import Instance
from bots.web.server import WebServer
from core.views.pages import WebPages
from storage.sqlite.web_catalog import SqliteWebCatalog


def web_pages_for(instance: Instance) -> WebPages:
    """The public pages of an instance."""
    app = instance.app
    return WebPages(
        app.tracks,
        SqliteWebCatalog(instance.db),
        community=instance.settings.instance.community,
        instance_name=app.instance_name,
        genres=app.genres,
        voting=app.voting,
        prompts=app.prompts,
        federation=app.federation,
        curation=app.curation,
        federated_rounds=app.federated_rounds,  # issue 18
    )


def web_server_for(
    instance: Instance, parts: Callable[[], Mapping[str, str]] | None = None, page_cache_s: float = 5.0
) -> WebServer:
    """The instance's HTTP server: site, feeds, blobs, health and metrics (``page_cache_s`` 0: no page cache)."""
    return WebServer(
        instance.app,
        parts,
        pages=web_pages_for(instance),
        public_url=instance.settings.http.public_url,
        verdicts=SqliteWebCatalog(instance.db),
        page_cache_s=page_cache_s,
    )
