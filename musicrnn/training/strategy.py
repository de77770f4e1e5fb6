"""tf.distribute strategies by name, for --strategy."""

import tensorflow as tf

from musicrnn.errors import UsageError

STRATEGIES = ('default', 'mirrored', 'multi_worker', 'tpu')


def make_strategy(name, tpu=None, cpu_devices=0):
  """A tf.distribute.Strategy.

  Args:
    name: 'default' (one device), 'mirrored' (every local GPU, or CPU),
      'multi_worker' (MultiWorkerMirroredStrategy; hosts from TF_CONFIG) or
      'tpu' (TPUStrategy on `tpu`).
    tpu: TPU name or address for 'tpu' ('' or 'local' for a TPU VM).
    cpu_devices: with 'mirrored', split the CPU into this many logical
      devices and mirror over them (data parallelism without GPUs, to try
      it out); 0 leaves the devices as they are. Must come before
      TensorFlow initialises its devices.
  """
  if cpu_devices and name != 'mirrored':
    raise UsageError(f'--cpu_devices goes with --strategy=mirrored, not {name}')
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    if cpu_devices:
      cpu = tf.config.list_physical_devices('CPU')[0]
      split = tf.config.get_logical_device_configuration(cpu) or []
      # A process that split the CPU so already (a second run in it) keeps it.
      if len(split) != cpu_devices:
        try:
          tf.config.set_logical_device_configuration(
              cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
        except RuntimeError as e:
          raise UsageError('cannot split the CPU once TensorFlow has started '
                           f'(it has {max(len(split), 1)} CPU device(s)): {e}') from e
      return tf.distribute.MirroredStrategy(
          [f'/cpu:{i}' for i in range(cpu_devices)])
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


def is_tpu(strategy):
  """Whether `strategy` runs on TPUs (which compile every step with XLA and
  need batches of one shape)."""
  return isinstance(strategy, tf.distribute.TPUStrategy)


def _task(strategy):
  """(task_type, task_id, cluster dict) of a multi-host strategy, or None."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None:
    return None
  cluster = resolver.cluster_spec().as_dict()
  if not cluster or resolver.task_type is None:
    return None
  return resolver.task_type, resolver.task_id, cluster


def is_chief(strategy):
  """Whether this process writes the run's outputs (config, checkpoints,
  TensorBoard events): the 'chief' task, or worker 0 of a cluster without
  one. Single-host strategies are always chief."""
  task = _task(strategy)
  if task is None:
    return True
  task_type, task_id, cluster = task
  if task_type == 'chief':
    return True
  return task_type == 'worker' and task_id == 0 and 'chief' not in cluster


def worker_name(strategy):
  """'worker-1' and the like for a non-chief task, for its scratch folder."""
  task = _task(strategy)
  return 'chief' if task is None else f'{task[0]}-{task[1]}'


def num_workers(strategy):
  """How many hosts feed this strategy (1 unless multi-worker)."""
  task = _task(strategy)
  if task is None or is_tpu(strategy):
    return 1
  cluster = task[2]
  return len(cluster.get('worker', [])) + len(cluster.get('chief', []))


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
