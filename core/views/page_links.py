"""Links from chat posts to the instance's public web pages (when ``[http] public_url`` is set).

A track card's post links to ``/tracks/<id>`` and the digest's to ``/digests/<week>``; the
link goes at the end of the post's text (so both chat presenters show it, and a chat that
unfurls links shows the page's OpenGraph player) and into ``Reply.data["page"]``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.replies import Post, Reply


def track_page(public_url: str, track_id: str) -> str:
    """The address of a track's page."""
    return f"{public_url.rstrip('/')}/tracks/{track_id}"


def digest_page(public_url: str, week_ending: datetime | str) -> str:
    """The address of a digest's page (``week_ending`` as a datetime or ISO text)."""
    moment = datetime.fromisoformat(week_ending) if isinstance(week_ending, str) else week_ending
    return f"{public_url.rstrip('/')}/digests/{moment:%Y-%m-%d}"


def page_of(post: Post, public_url: str) -> str | None:
    """The page a post is about: the digest's, or the one track of a genre post; None for others."""
    reply = post.reply
    if post.target == "digest" and isinstance(reply.data.get("week_ending"), str):
        return digest_page(public_url, str(reply.data["week_ending"]))
    # not round posts: a track's page names its sharer, which an anonymous round hides
    if len(reply.cards) == 1 and (post.target == "default" or post.target.startswith("genre:")):
        return track_page(public_url, reply.cards[0].id)
    return None


def with_page_link(post: Post, public_url: str | None) -> Post:
    """The post with a link to its web page at the end of its text (unchanged without a public URL)."""
    if not public_url:
        return post
    page = page_of(post, public_url)
    if page is None:
        return post
    reply: Reply = post.reply
    text = f"{reply.text}\n{page}" if reply.text else page
    return replace(post, reply=replace(reply, text=text, data={**reply.data, "page": page}))
