"""Every error the core raises, in one hierarchy.

WavepoolError                  base; ``str(err)`` is fit to show a member
├── InputError                 a member or operator gave something we cannot use
│   ├── NotAudioError          the bytes are not an audio container we accept
│   ├── CorruptAudioError      audio that cannot be decoded, or is truncated
│   ├── LowQualityError        silence, one repeated tone or a noise floor, not a track
│   ├── TooLargeError          over the size cap
│   ├── TooLongError           over the duration cap (or zero length)
│   ├── UnsafeUrlError         a URL or redirect we refuse to fetch (SSRF rules)
│   ├── FetchError             a download failed (timeout, 404, no audio on page)
│   │   ├── PageGoneError      the page is not public (401/403/404/410)
│   │   └── PageWithoutAudioError  the page answered but offers no audio
│   └── UsageError             a command was called with bad arguments
├── NotFoundError              an unknown track, prompt, round, peer ...
├── PermissionDeniedError      the caller lacks the permission a command needs
├── ConflictError              a rule of the community was broken
│   ├── DuplicateError         the same thing again (vote, entry, prompt)
│   ├── RateLimitedError       too many shares in a window
│   └── PhaseError             too early / too late for a round phase
├── IntegrityError             bytes do not match their address (pool, federation)
└── ConfigError                the config file or environment is invalid (names the key)
"""

from __future__ import annotations


class WavepoolError(Exception):
    """Base of every error the core raises; the message is fit to show a member."""


class InputError(WavepoolError):
    """Something a member or operator supplied cannot be used."""


class NotAudioError(InputError):
    """The bytes are not an accepted audio container."""


class CorruptAudioError(InputError):
    """The audio cannot be decoded or is truncated."""


class LowQualityError(InputError):
    """The audio fails a quality gate (silent, one tone, a noise floor)."""


class TooLargeError(InputError):
    """The file is over the configured size cap."""


class TooLongError(InputError):
    """The audio is over the configured duration cap, or has no length."""


class UnsafeUrlError(InputError):
    """A URL or a redirect hop points somewhere we refuse to connect to."""


class FetchError(InputError):
    """Downloading a link failed."""


class PageGoneError(FetchError):
    """The page is private, removed or never existed (401/403/404/410)."""


class PageWithoutAudioError(FetchError):
    """The page answered but has no playable audio."""


class UsageError(InputError):
    """A command was called with arguments it cannot use."""


class NotFoundError(WavepoolError):
    """An unknown track, prompt, round or peer."""


class PermissionDeniedError(WavepoolError):
    """The caller lacks the permission the command needs."""


class ConflictError(WavepoolError):
    """A community rule was broken."""


class DuplicateError(ConflictError):
    """The same vote, entry or record again."""


class RateLimitedError(ConflictError):
    """Too many actions in a window."""


class PhaseError(ConflictError):
    """Too early or too late for a round phase."""


class IntegrityError(WavepoolError):
    """Bytes that do not match their content address."""


class ConfigError(WavepoolError):
    """The configuration is invalid; the message names the key."""


class StorageError(WavepoolError):
    """This instance's own storage refused a write (disk full, database held by another program).

    Nothing was saved; the same request works again once the cause is gone.
    """


DISK_FULL_TEXT = "the server's disk is full, so nothing was saved; try again once the operator has freed space"
DATABASE_BUSY_TEXT = "the database is busy (another program holds it), so nothing was saved; try again in a moment"
