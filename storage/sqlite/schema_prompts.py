"""Schema of the prompt library beyond migration 4 (``prompts``, ``prompt_tracks``, FTS5).

``prompt_terms`` is the library's vocabulary: every word the index knows with the number
of entries containing it. The repository keeps it current on save (same transaction) and
uses it to
* expand a prefix term (``synth`` → ``synth OR synthwave OR synths ...``, the most common
  completions) instead of an FTS5 prefix query, which merges every matching doclist up
  front (up to ~150 ms at a million prompts), and
* pick the most distinctive words of a prompt for "more like this" with point lookups
  (``fts5vocab`` counts documents by walking whole doclists).

The migration fills it from the existing index once. Migration statements only; the
``Migration`` itself is declared in ``migrations.py``.
"""

from __future__ import annotations

PROMPT_TERMS_VERSION = 8
PROMPT_TERMS_NAME = "prompt vocabulary"
PROMPT_TERMS_STATEMENTS: tuple[str, ...] = (
    "CREATE TABLE prompt_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO prompt_terms(term, docs) SELECT term, doc FROM prompts_vocab",
)
