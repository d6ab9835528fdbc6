"""Use cases, one module each: ingest, provenance, genres, prompts, voting, digest, federation."""
