"""The one exception type for mistakes a user can fix (bad config values, bad data files)."""


class UserError(ValueError):
    """A mistake in the user's input; console scripts print its message on one line, without a traceback."""


class RunFailed(Exception):
    """A run of a sweep failed; the message names its directory and the reason (its results.json has the rest)."""
