"""The one exception type for problems a user can fix (bad input, missing weights, a motion that does not fit).

It subclasses ValueError so callers that already catch ValueError keep working. Its message is a single line that
says what was wrong and what to do; the CLI and the app show it as it is, without a traceback.
"""


class MotionInversionError(ValueError):
    """A user-facing error with a one-line message."""


class MotionInversionWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. a clip shorter than the model's frames)."""
