"""Paths given on the command line: local ones made absolute, URLs kept.

Every path flag of every binary is relative to the current directory. Some
libraries resolve a relative path against another folder (TensorFlow's
checkpoint index against the checkpoint folder) or match nothing with it
(Beam's glob of a bare file name), so library functions make their path
arguments absolute on entry with `absolute`.
"""

import os


def is_url(path):
  """True for object-store and other file-system URLs (gs://, s3://, ...)."""
  return '://' in path


def absolute(path):
  """`path` with ~ expanded and made absolute; URLs and None unchanged."""
  if path is None:
    return None
  path = os.fspath(path)
  if is_url(path):
    return path
  return os.path.abspath(os.path.expanduser(path))


def relative_to(path, start):
  """`path` relative to the folder `start` (both local), or None for URLs."""
  if path is None or is_url(path) or is_url(start):
    return None
  return os.path.relpath(absolute(path), absolute(start))
