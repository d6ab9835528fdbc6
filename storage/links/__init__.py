"""Ingest from links, safely: generator pages, media pages and direct audio URLs.

``SafeLinkFetcher`` implements ``core.ports.LinkFetcher``; every connection it (and the
yt-dlp it drives) makes passes the address guard in ``address_guard``.
"""

from storage.links.address_guard import AddressGuard, LinkPolicy, Resolver
from storage.links.link_fetcher import SafeLinkFetcher

__all__ = ["AddressGuard", "LinkPolicy", "Resolver", "SafeLinkFetcher"]
