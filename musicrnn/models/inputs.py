"""Model inputs shared by every event model: events and control signals.

A batch is a dict {'tokens': int [batch, time], control name: values}: an
integer control (a class per step, e.g. 'note_density') is one-hot encoded
to its size; a float control ('pitch_histogram') is a vector of its size per
step. Each control says which it is (`input_dtype` of
`musicrnn.encodings.controls`).
"""

import keras
from keras import ops
import numpy as np


def data_arguments(codec, controls):
  """An event model's constructor arguments that come from the data: the
  codec's `vocab_size` and {control name: size}."""
  return {'vocab_size': codec.vocab_size,
          'control_sizes': {name: control.size for name, control in controls}}


def example_inputs(controls):
  """A batch of one, two steps long, that builds an event model."""
  inputs = {'tokens': np.zeros((1, 2), np.int32)}
  for name, control in controls:
    shape = (1, 2) if control.input_dtype.startswith('int') else (1, 2, control.size)
    inputs[name] = np.zeros(shape, control.input_dtype)
  return inputs


def control_parts(inputs, control_sizes, dtype):
  """[tensor [batch, time, size]] for each control of `control_sizes`, sorted;
  integer inputs (classes) are one-hot encoded.

  Raises:
    ValueError: the inputs lack a control the model is conditioned on.
  """
  parts = []
  for name, size in sorted(control_sizes.items()):
    if name not in inputs:
      raise ValueError(f'this model is conditioned on {name!r}, which the '
                       'inputs lack')
    value = inputs[name]
    if 'int' in keras.backend.standardize_dtype(value.dtype):
      value = ops.one_hot(ops.cast(value, 'int32'), size)
    parts.append(ops.cast(value, dtype))
  return parts


def as_one_step(inputs):
  """Step inputs ([batch], controls [batch, size]) as sequences of length 1."""
  return {name: ops.expand_dims(value, 1) for name, value in inputs.items()}
