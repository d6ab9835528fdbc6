"""The Discord bot: slash commands generated from the registry, embeds, persistent buttons."""
