"""A run directory: the resolved config, checkpoints and TensorBoard events.

  run_dir/
    config.json      {'config': resolved config, 'encoding': codec spec,
                      'dataset': the training data's dataset.json fields}
    checkpoints/     tf.train.CheckpointManager files (the last K kept)
    train/, eval/    TensorBoard event files
    eval_metrics.json  the latest evaluation

`musicrnn_generate` and `musicrnn_evaluate` need only the run directory:
config.json says how to rebuild the codec, the controls and the model.
"""

import dataclasses
import json
import os

import ml_collections
import tensorflow as tf

from musicrnn import encodings
from musicrnn import models
from musicrnn.errors import UsageError

CONFIG_JSON = 'config.json'
CHECKPOINTS = 'checkpoints'
EVAL_METRICS_JSON = 'eval_metrics.json'


def _read_json(path):
  with tf.io.gfile.GFile(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise UsageError(f'{path} is corrupt (not valid JSON: {e})') from e


def write_json_atomically(path, value):
  """Writes JSON to a temporary file, then renames it over `path`."""
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def prepare(run_dir, config, encoding_spec, dataset_description, dataset_dir=None):
  """Creates `run_dir` or checks that it holds a run of the same config.

  Returns:
    True when `run_dir` already held this run (training resumes).

  Raises:
    UsageError: run_dir holds a run of another config or encoding.
  """
  tf.io.gfile.makedirs(run_dir)
  path = os.path.join(run_dir, CONFIG_JSON)
  record = {
      'config': json.loads(json.dumps(config.to_dict())),
      'encoding': encoding_spec,
      'dataset': {k: dataset_description.get(k) for k in
                  ('config_name', 'encoding', 'sequence_features', 'input')},
  }
  record['dataset']['dir'] = dataset_dir
  if tf.io.gfile.exists(path):
    saved = _read_json(path)
    if saved.get('config') != record['config']:
      changed = sorted(_diff(saved.get('config', {}), record['config']))
      raise UsageError(
          f'{run_dir} holds a run of another config (differs in: '
          f'{", ".join(changed[:8])}); resume it with the same --config and '
          'overrides, or choose a new --run_dir')
    if saved.get('encoding') != encoding_spec:
      raise UsageError(f'{run_dir} was trained on encoding {saved.get("encoding")}, '
                       f'this data has {encoding_spec}')
    return True
  write_json_atomically(path, record)
  return False


def _diff(a, b, prefix=''):
  for key in set(a) | set(b):
    x, y = a.get(key), b.get(key)
    if isinstance(x, dict) and isinstance(y, dict):
      yield from _diff(x, y, f'{prefix}{key}.')
    elif x != y:
      yield f'{prefix}{key}'


def load(run_dir):
  """(config ConfigDict, encoding spec) of a run directory.

  Raises:
    UsageError: no run there, or its config.json is unreadable.
  """
  path = os.path.join(run_dir, CONFIG_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{run_dir} is not a musicrnn run directory (no {CONFIG_JSON}; '
                     'train one with musicrnn_train)')
  record = _read_json(path)
  if 'config' not in record or 'encoding' not in record:
    raise UsageError(f'{path} lacks its config or encoding')
  return ml_collections.ConfigDict(record['config']), record['encoding']


def dataset_dir(run_dir):
  """The dataset folder a run was trained on (recorded in config.json)."""
  path = os.path.join(run_dir, CONFIG_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{run_dir} is not a musicrnn run directory (no {CONFIG_JSON})')
  return _read_json(path).get('dataset', {}).get('dir')


def checkpoint_dir(run_dir):
  return os.path.join(run_dir, CHECKPOINTS)


@dataclasses.dataclass
class LoadedRun:
  """A trained run, ready to sample: config, codec, controls, model, step."""
  config: object
  codec: object
  controls: list
  model: object
  step: int


def load_run(run_dir):
  """Rebuilds the model of `run_dir` and restores its latest checkpoint.

  Raises:
    UsageError: not a run directory, or no checkpoint yet.
  """
  config, encoding = load(run_dir)
  codec = encodings.codec.codec_from_spec(encoding)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
  model(models.example_inputs(config, controls))
  latest = tf.train.latest_checkpoint(checkpoint_dir(run_dir))
  if latest is None:
    raise UsageError(f'{run_dir} has no checkpoint yet; train it with musicrnn_train')
  step = tf.Variable(0, dtype=tf.int64)
  try:
    status = tf.train.Checkpoint(model=model, step=step).restore(latest)
    status.expect_partial().assert_existing_objects_matched()
  except (tf.errors.OpError, ValueError, AssertionError) as e:
    raise UsageError(f'checkpoint {latest} cannot be restored: {e}') from e
  return LoadedRun(config, codec, controls, model, int(step.numpy()))
