"""The Matrix bot: room commands, audio shares, reaction votes, announcements (matrix-nio)."""
