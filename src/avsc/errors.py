"""Error types for user mistakes: the CLI prints them in one line, without a traceback."""


class AvscError(Exception):
    """Base class for errors caused by user input (files, params, URIs)."""


class ConfigError(AvscError):
    """A params file or setting is invalid."""


class DataError(AvscError):
    """A dataset, media file or manifest is missing, unreadable or malformed."""


class ValidationFailed(AvscError):
    """A dataset failed validation; ``problems`` lists (file, rule, detail)."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
