"""The one exception type that reaches people as a single line instead of a traceback."""


class UserError(Exception):
    """Something a person can fix: bad params, missing data, bad upload, missing credentials.

    The message says what is wrong and how to fix it, in one line.
    """
