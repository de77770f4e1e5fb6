"""tf.distribute strategies by name, for --strategy."""

import tensorflow as tf

from musicrnn.errors import UsageError

STRATEGIES = ('default', 'mirrored', 'multi_worker', 'tpu')


def make_strategy(name, tpu=None):
  """A tf.distribute.Strategy.

  Args:
    name: 'default' (one device), 'mirrored' (every local GPU, or CPU),
      'multi_worker' (MultiWorkerMirroredStrategy; hosts from TF_CONFIG) or
      'tpu' (TPUStrategy on `tpu`).
    tpu: TPU name or address for 'tpu' ('' or 'local' for a TPU VM).
  """
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy()
  if name == 'multi_worker':
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == 'tpu':
    if tpu is None:
      raise UsageError('--strategy=tpu needs --tpu (a TPU name, or local)')
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu='' if tpu == 'local' else tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise UsageError(f'--strategy={name!r} is not one of {", ".join(STRATEGIES)}')


def describe_devices():
  """One line naming the accelerators TensorFlow sees, or the CPU: benchmark
  results say which device they came from."""
  import os  # pylint: disable=import-outside-toplevel
  import platform  # pylint: disable=import-outside-toplevel
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    return f'{len(gpus)} GPU(s): ' + ', '.join(
        tf.config.experimental.get_device_details(g).get('device_name', 'GPU')
        for g in gpus)
  return f'{platform.machine()}, {os.cpu_count()} CPUs, no accelerator'
