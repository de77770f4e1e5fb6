"""Errors that are the user's to fix, reported as one line by the entry points."""


class UsageError(Exception):
  """A wrong flag, a missing input, an output that already exists, ...

  Entry points print the message alone (no traceback) and exit non-zero.
  Library code raises it for any mistake the caller can fix by changing
  their arguments.
  """


class OutOfMemoryError(UsageError):
  """A step did not fit in memory. TensorFlow can abort while shutting down
  after one ("double free or corruption"), so an entry point reports it and
  leaves at once."""


def first_line(error):
  """The first line of an exception's message (TF errors run long)."""
  text = getattr(error, 'message', None) or str(error)
  return text.strip().splitlines()[0] if text.strip() else type(error).__name__
