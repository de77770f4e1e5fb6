"""Model inputs shared by every event model: events and control signals,
and the default of the step interface's `reorder_states`.

A batch is a dict {'tokens': int [batch, time], control name: values}: a
control of shape [batch, time] holds a class per step, which the model
one-hot encodes to its size; one of shape [batch, time, size] holds a vector
per step. Each control says which it gives (`Control.input_dtype` and
`input_shape` of `musicrnn.encodings.controls`: int32 classes or float32
vectors). The shape decides, not the dtype, so Keras can rebuild a saved
model from float placeholders of the recorded shapes.
"""

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
    inputs[name] = np.zeros((1, 2) + control.input_shape, control.input_dtype)
  return inputs


def control_parts(inputs, control_sizes, dtype, time_axis=True):
  """[tensor [batch, time, size]] for each control of `control_sizes`, sorted;
  classes ([batch, time]) are one-hot encoded. Without `time_axis`, inputs
  of one step: classes [batch], vectors [batch, size].

  Raises:
    ValueError: the inputs lack a control the model is conditioned on.
  """
  parts = []
  for name, size in sorted(control_sizes.items()):
    if name not in inputs:
      raise ValueError(f'this model is conditioned on {name!r}, which the '
                       'inputs lack')
    value = inputs[name]
    if len(value.shape) == (2 if time_axis else 1):
      value = ops.one_hot(ops.cast(value, 'int32'), size)
    parts.append(ops.cast(value, dtype))
  return parts


def as_one_step(inputs):
  """Step inputs ([batch], controls [batch, size]) as sequences of length 1."""
  return {name: ops.expand_dims(value, 1) for name, value in inputs.items()}


def reorder_states(states, indices):
  """The step states of sequences `indices` [batch] (each an index into the
  batch), in that order, as beam search keeps its survivors: every state
  tensor gathered along its batch axis. A model that can share part of its
  states between sequences (the transformer's finished cache chunks) moves
  less."""
  return [ops.take(state, indices, axis=0) for state in states]
