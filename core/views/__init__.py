"""How results and events read to members, platform-free: typed results in, ``Reply`` out.

Services return data (a track, a round and its standings, a digest); these modules word
it once for every surface, and each adapter's presenter renders the ``Reply`` its own
way (Discord embeds and components, Matrix HTML and reactions, terminal text).
"""
