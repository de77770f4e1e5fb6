"""The console scripts (setup.py): each quiets the console, then imports its
entry point and runs it.

`musicrnn_train` runs `train()` here rather than `musicrnn.train:run`:
importing musicrnn.train loads TensorFlow, whose C++ runtime writes its
start-up lines to descriptor 2 at import, and Beam, which logs at import;
the console filter (`musicrnn.console.quiet`) must be in place before
either. Importing this module imports no entry point and changes nothing.
"""

import sys

from musicrnn import console

# pylint: disable=import-outside-toplevel


def convert():
  """musicrnn_convert."""
  console.quiet(sys.argv)
  from musicrnn import convert as program
  return program.run()


def create_dataset():
  """musicrnn_create_dataset."""
  console.quiet(sys.argv)
  from musicrnn import create_dataset as program
  return program.run()


def quickstart():
  """musicrnn_quickstart."""
  console.quiet(sys.argv)
  from musicrnn import quickstart as program
  return program.run()


def train():
  """musicrnn_train."""
  console.quiet(sys.argv)
  from musicrnn import train as program
  return program.run()


def generate():
  """musicrnn_generate."""
  console.quiet(sys.argv)
  from musicrnn import generate as program
  return program.run()


def attribute_vector():
  """musicrnn_attribute_vector."""
  console.quiet(sys.argv)
  from musicrnn import attribute_vector as program
  return program.run()


def evaluate():
  """musicrnn_evaluate."""
  console.quiet(sys.argv)
  from musicrnn import evaluate as program
  return program.run()


def import_magenta():
  """musicrnn_import_magenta."""
  console.quiet(sys.argv)
  from musicrnn import import_magenta as program
  return program.run()


def export():
  """musicrnn_export."""
  console.quiet(sys.argv)
  from musicrnn import export as program
  return program.run()


def studio():
  """musicrnn_studio."""
  console.quiet(sys.argv)
  from musicrnn import studio as program
  return program.run()
