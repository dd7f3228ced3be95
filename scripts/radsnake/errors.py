"""Errors that mean "the input is wrong", shown to the user without a traceback."""


class InputError(Exception):
    """Bad input: the message names the case, the file and what to do."""
