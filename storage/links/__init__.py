"""Ingest from links, safely: generator pages, media pages and direct audio URLs.

``SafeLinkFetcher`` implements ``core.ports.LinkFetcher``; every connection it (and the
yt-dlp it drives) makes passes the address guard in ``address_guard``.
"""

from typing import Any

from storage.links.address_guard import AddressGuard, LinkPolicy, Resolver

__all__ = ["AddressGuard", "LinkPolicy", "Resolver", "SafeLinkFetcher"]


def __getattr__(name: str) -> Any:
    # the fetcher is imported when asked for: importing the address guard alone must stay light
    if name == "SafeLinkFetcher":
        from storage.links.link_fetcher import SafeLinkFetcher

        return SafeLinkFetcher
    raise AttributeError(name)
