"""Discord's documented limits, checked the way Discord checks them.

Each ``check_*`` returns Discord's ``errors`` object for an invalid body (nested by field
path, e.g. ``{"embeds": {"0": {"fields": {"3": {"value": {"_errors": [...]}}}}}}``) or
``None``; the fake answers 400 with code 50035 "Invalid Form Body" and that object, as
Discord does. Lengths are counted in characters (code points), as Discord documents them.
Sources: developer docs, "Message Resource" (content 2000, 10 embeds, 5 action rows, 25
component ids unique), "Embed Limits" (title 256, description 4096, 25 fields, field name
256, value 1024, footer 2048, author 256, 6000 across a message's embeds), "Component
Reference" (5 buttons a row, label 80, custom_id 100; modal title 45, text input label
45, value and max_length 4000, placeholder 100), "Application Commands" (name 1-32
lower-case, description 1-100, 25 options and choices, 4000 characters a command, 100
chat-input commands), "Threads" (name 1-100), and "Create Message" (nonce 25).
"""

from __future__ import annotations

import re
from typing import Any

Errors = dict[str, Any]
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _put(tree: Errors, path: tuple[str | int, ...], leaf: Errors) -> None:
    node = tree
    for part in path:
        node = node.setdefault(str(part), {})
    node.setdefault("_errors", []).extend(leaf["_errors"])


class Collector:
    """Errors gathered under their field paths."""

    def __init__(self) -> None:
        self.tree: Errors = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        """Record an error at ``path``."""
        _put(self.tree, path, _error(code, message))

    def length(
        self, path: tuple[str | int, ...], value: Any, most: int, least: int = 0, required: bool = False
    ) -> None:
        """A string's length within [least, most]; absent is fine unless ``required``."""
        if value is None:
            if required:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.add(path, "STRING_TYPE_CONVERT", "Could not interpret value as string.")
        elif len(value) > most:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {most} or fewer in length.")
        elif len(value) < least or (required and not value.strip()):
            self.add(
                path,
                "BASE_TYPE_MIN_LENGTH" if value.strip() else "BASE_TYPE_REQUIRED",
                f"Must be {least} or more in length." if value.strip() else "This field is required",
            )

    def count(self, path: tuple[str | int, ...], items: Any, most: int, least: int = 0) -> None:
        """A list's length within [least, most]."""
        if items is None:
            return
        if len(items) > most:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {most} or fewer in length.")
        elif len(items) < least:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {least} or more in length.")

    def result(self) -> Errors | None:
        """The errors object, or None when there is none."""
        return self.tree or None


def embed_size(embed: dict[str, Any]) -> int:
    """Characters an embed counts against the 6000 of a message."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in embed.get("fields") or [])
    total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    return total


def _embeds(errors: Collector, embeds: list[dict[str, Any]]) -> None:
    errors.count(("embeds",), embeds, 10)
    for index, embed in enumerate(embeds):
        path: tuple[str | int, ...] = ("embeds", index)
        errors.length((*path, "title"), embed.get("title"), 256)
        errors.length((*path, "description"), embed.get("description"), 4096)
        errors.count((*path, "fields"), embed.get("fields"), 25)
        for number, item in enumerate(embed.get("fields") or []):
            errors.length((*path, "fields", number, "name"), item.get("name"), 256, 1, required=True)
            errors.length((*path, "fields", number, "value"), item.get("value"), 1024, 1, required=True)
        if embed.get("footer") is not None:
            errors.length((*path, "footer", "text"), embed["footer"].get("text"), 2048, 1, required=True)
        if embed.get("author") is not None:
            errors.length((*path, "author", "name"), embed["author"].get("name"), 256, 1, required=True)
        url = embed.get("url")
        if url is not None and not re.match(r"^https?://", str(url)):
            errors.add((*path, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    if sum(embed_size(e) for e in embeds) > 6000:
        errors.add(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _components(errors: Collector, rows: list[dict[str, Any]]) -> None:
    errors.count(("components",), rows, 5)
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path: tuple[str | int, ...] = ("components", index)
        if row.get("type") != 1:
            errors.add((*path, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Only action rows are allowed here")
            continue
        items = row.get("components") or []
        errors.count((*path, "components"), items, 5, 1)
        for number, item in enumerate(items):
            where = (*path, "components", number)
            if item.get("type") == 2:
                errors.length((*where, "label"), item.get("label"), 80)
                if item.get("style") == 5:
                    errors.length((*where, "url"), item.get("url"), 512, 1, required=True)
                    continue
                errors.length((*where, "custom_id"), item.get("custom_id"), 100, 1, required=True)
            else:
                errors.length((*where, "custom_id"), item.get("custom_id"), 100, 1, required=True)
                errors.count((*where, "options"), item.get("options"), 25)
            custom_id = item.get("custom_id")
            if custom_id in seen:
                errors.add(
                    (*where, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            if custom_id is not None:
                seen.add(custom_id)


def check_message(body: dict[str, Any], has_files: bool = False) -> Errors | None:
    """Errors of a create/edit message body (channel message, follow-up, interaction message)."""
    errors = Collector()
    errors.length(("content",), body.get("content"), 2000)
    nonce = body.get("nonce")
    if isinstance(nonce, str) and len(nonce) > 25:
        errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    _embeds(errors, body.get("embeds") or [])
    _components(errors, body.get("components") or [])
    return errors.result()


def is_empty(body: dict[str, Any], has_files: bool) -> bool:
    """Discord refuses a message with nothing in it (code 50006)."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or has_files
        or body.get("sticker_ids")
        or body.get("poll")
    )


def check_modal(data: dict[str, Any]) -> Errors | None:
    """Errors of a modal (interaction callback type 9)."""
    errors = Collector()
    errors.length(("data", "title"), data.get("title"), 45, 1, required=True)
    errors.length(("data", "custom_id"), data.get("custom_id"), 100, 1, required=True)
    rows = data.get("components") or []
    errors.count(("data", "components"), rows, 5, 1)
    for index, row in enumerate(rows):
        path: tuple[str | int, ...] = ("data", "components", index)
        if row.get("type") == 18:  # a label around one component
            errors.length((*path, "label"), row.get("label"), 45, 1, required=True)
            errors.length((*path, "description"), row.get("description"), 100)
            inputs = [row.get("component") or {}]
            where: list[tuple[str | int, ...]] = [(*path, "component")]
        else:
            inputs = row.get("components") or []
            errors.count((*path, "components"), inputs, 1, 1)
            where = [(*path, "components", n) for n in range(len(inputs))]
        for item, item_path in zip(inputs, where, strict=True):
            errors.length((*item_path, "custom_id"), item.get("custom_id"), 100, 1, required=True)
            if item.get("type") == 4:
                if row.get("type") != 18:
                    errors.length((*item_path, "label"), item.get("label"), 45, 1, required=True)
                errors.length((*item_path, "placeholder"), item.get("placeholder"), 100)
                errors.length((*item_path, "value"), item.get("value"), 4000)
                for bound in ("min_length", "max_length"):
                    value = item.get(bound)
                    if value is not None and not 0 <= int(value) <= 4000:
                        errors.add((*item_path, bound), "NUMBER_TYPE_MAX", "int value should be <= 4000.")
    return errors.result()


def _command_chars(command: dict[str, Any]) -> int:
    total = len(command.get("name") or "") + len(command.get("description") or "")
    for option in command.get("options") or []:
        total += _command_chars(option)
        for choice in option.get("choices") or []:
            total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total


def _options(errors: Collector, path: tuple[str | int, ...], options: list[dict[str, Any]]) -> None:
    errors.count((*path, "options"), options, 25)
    names: set[str] = set()
    optional_seen = False
    for index, option in enumerate(options):
        where = (*path, "options", index)
        name = option.get("name") or ""
        if not COMMAND_NAME.match(name) or name != name.lower():
            errors.add((*where, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            errors.add((*where, "name"), "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS", "Option name already exists")
        names.add(name)
        errors.length((*where, "description"), option.get("description"), 100, 1, required=True)
        errors.count((*where, "choices"), option.get("choices"), 25)
        for number, choice in enumerate(option.get("choices") or []):
            errors.length((*where, "choices", number, "name"), choice.get("name"), 100, 1, required=True)
            if isinstance(choice.get("value"), str):
                errors.length((*where, "choices", number, "value"), choice["value"], 100, 1, required=True)
        if option.get("type") in (1, 2):  # sub-command (group)
            _options(errors, where, option.get("options") or [])
            continue
        if option.get("required"):
            if optional_seen:
                errors.add(
                    (*where, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        for bound in ("min_length", "max_length"):
            value = option.get(bound)
            if value is not None and not 0 <= int(value) <= 6000:
                errors.add((*where, bound), "NUMBER_TYPE_MAX", "int value should be <= 6000.")


def check_commands(commands: list[dict[str, Any]]) -> Errors | None:
    """Errors of a bulk overwrite of application commands."""
    errors = Collector()
    chat = [c for c in commands if c.get("type", 1) == 1]
    if len(chat) > 100:
        errors.add((), "APPLICATION_COMMANDS_MAX_EXCEEDED", "Maximum number of application commands reached (100)")
    names: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        name = command.get("name") or ""
        kind = int(command.get("type", 1))
        if not COMMAND_NAME.match(name) or (kind == 1 and name != name.lower()):
            errors.add((index, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if (kind, name) in names:
            errors.add(
                (index, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        names.add((kind, name))
        if kind == 1:
            errors.length((index, "description"), command.get("description"), 100, 1, required=True)
        _options(errors, (index,), command.get("options") or [])
        if _command_chars(command) > 4000:
            errors.add((index,), "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
    return errors.result()


def check_thread(body: dict[str, Any]) -> Errors | None:
    """Errors of a start-thread body."""
    errors = Collector()
    errors.length(("name",), body.get("name"), 100, 1, required=True)
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in (60, 1440, 4320, 10080):
        errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
    return errors.result()
