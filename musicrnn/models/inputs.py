"""Model inputs shared by every event model: events and control signals.

A batch is a dict {'tokens': int [batch, time], control name: values}: an
integer control ('note_density', a class per step) is one-hot encoded to its
size; a float control ('pitch_histogram') is a vector of its size per step.
"""

from keras import ops

# Integer controls are one-hot encoded to their size; float controls are
# vectors of their size.
INTEGER_CONTROLS = ('note_density',)


def control_parts(inputs, control_sizes, dtype):
  """[tensor [batch, time, size]] for each control of `control_sizes`, sorted.

  Raises:
    ValueError: the inputs lack a control the model is conditioned on.
  """
  parts = []
  for name, size in sorted(control_sizes.items()):
    if name not in inputs:
      raise ValueError(f'this model is conditioned on {name!r}, which the '
                       'inputs lack')
    value = inputs[name]
    if name in INTEGER_CONTROLS:
      value = ops.one_hot(ops.cast(value, 'int32'), size)
    parts.append(ops.cast(value, dtype))
  return parts


def as_one_step(inputs):
  """Step inputs ([batch], controls [batch, size]) as sequences of length 1."""
  return {name: ops.expand_dims(value, 1) for name, value in inputs.items()}
