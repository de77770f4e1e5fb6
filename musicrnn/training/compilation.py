"""How the trainer compiles a step: XLA, static input shapes, precision.

  jit_compile = compilation.use_jit_compile(config, None)
  length = compilation.static_input_length(config, jit_compile=jit_compile)
  with compilation.dtype_policy('mixed_bfloat16'):
    model = models.build_model(config, codec, controls)
"""

import contextlib

import keras

from musicrnn import encodings
from musicrnn import models
from musicrnn.errors import UsageError

PRECISIONS = ('none', 'mixed_bfloat16', 'mixed_float16')


def _segmented(config):
  return encodings.codec.codec_class(config['encoding']['name']).segmented


def _has_static_shape(config):
  """Whether one shape fits every example: a piano roll's segment, or at
  most data.max_events tokens (not when max_events counts steps)."""
  data = config['data']
  return _segmented(config) or bool(
      data['max_events'] and data.get('length_unit', 'events') == 'events')


def use_jit_compile(config, jit_compile=None, *, replicas=1, tpu=False):
  """Whether `train` has XLA compile each replica's train and eval step.

  Args:
    config: the run's config.
    jit_compile: True or False; None (auto): on for the families XLA trains
      faster on a CPU (the model class's `trains_faster_with_xla`:
      benchmarks/xla_benchmark.py measured the transformer 1.5-1.6x, the GAN
      1.2-1.8x; the event LSTM 0.3-0.4x, its recurrent loop; the dilated CNN
      0.95x) when one shape fits every example (XLA needs static shapes,
      `static_input_length`).
    replicas: replicas in sync. XLA would compile a replica's step with its
      all-reduce, which MirroredStrategy runs outside XLA: several replicas
      turn auto off, and True is a UsageError.
    tpu: TPUStrategy compiles every step with XLA itself: False.
  """
  if tpu:
    return False
  if jit_compile is None:
    return (replicas == 1
            and models.model_class(config['family']).trains_faster_with_xla
            and _has_static_shape(config))
  if jit_compile and replicas > 1:
    raise UsageError(f'XLA (--jit_compile=on) compiles one replica\'s step; '
                     f'with {replicas} replicas train with --jit_compile=off')
  return bool(jit_compile)


def static_input_length(config, *, static_shapes=None, tpu=False,
                        jit_compile=False):
  """The steps every training batch is padded to (one shape for all), or
  None for batches padded to their longest example.

  Args:
    config: the run's config.
    static_shapes: True or False forces the choice; None (auto) picks static
      shapes on TPUs (`tpu`), which need them, and with XLA (`jit_compile`),
      which compiles the step again for every new shape.
    tpu: the strategy is a TPUStrategy (`strategy.is_tpu`).
    jit_compile: XLA compiles the steps.

  Returns:
    `data.max_events` for event encodings: no example has more tokens
    (longer ones are split, truncated or cropped to it), so its inputs and
    labels, one shorter, fit with a step of padding; max_events keeps the
    length a round number (TPU tiles of 128) where max_events - 1 would
    not. A piano roll's segment steps, its one shape already. None when off.

  Raises:
    UsageError: the config bounds no token length (no max_events, or
      `data.length_unit='steps'`).
  """
  if static_shapes is None:
    static_shapes = tpu or jit_compile
  if not static_shapes:
    return None
  if not _has_static_shape(config):
    raise UsageError(
        'static shapes (on TPUs and with XLA) pad examples to '
        f'data.max_events tokens, and config {config["name"]!r} bounds no '
        'token length (data.max_events unset, or counted in steps); train '
        'without them (--jit_compile=off, not on a TPU)')
  if _segmented(config):
    return encodings.codec_from_config(config).segment_shape[0]
  return int(config['data']['max_events'])


@contextlib.contextmanager
def dtype_policy(mixed_precision):
  """Keras' global dtype policy is `mixed_precision` ('none': float32) in
  the block (layers take it when built), and as before after it."""
  if mixed_precision not in PRECISIONS:
    raise UsageError(f'mixed_precision must be one of {", ".join(PRECISIONS)}, '
                     f'got {mixed_precision!r}')
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(
      'float32' if mixed_precision == 'none' else mixed_precision)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)
