"""Settings: one TOML file plus environment variables for secrets, validated once."""

from config.loading import ConfigInvalid, load_settings
from config.settings import Settings

__all__ = ["ConfigInvalid", "Settings", "load_settings"]
