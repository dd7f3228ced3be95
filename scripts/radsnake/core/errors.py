"""Errors that mean "the input is wrong", shown to the user without a traceback."""


class InputError(Exception):
    """Bad input: the message names the case, the file and what to do.

    ``shareable`` is the message as it may be written under results/ (QC and exclusion
    tables, per-case records): without DICOM free text (series descriptions) or UIDs,
    which the full message may quote so that the user can fix the input. Defaults to
    the message itself.
    """

    def __init__(self, message: str, shareable: str | None = None):
        super().__init__(message)
        self.shareable = shareable if shareable is not None else message
