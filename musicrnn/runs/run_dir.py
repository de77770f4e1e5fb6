"""A run directory: the resolved config, checkpoints and TensorBoard events.

  run_dir/
    config.json      {'config': resolved config, 'encoding': codec spec,
                      'dataset': the training data's dataset.json fields}
    checkpoints/     tf.train.CheckpointManager files (the last K kept)
    train/, eval/    TensorBoard event files
    eval_metrics.json  the latest evaluation

`musicrnn_generate` and `musicrnn_evaluate` need only the run directory:
config.json says how to rebuild the codec, the controls and the model (and
so its task, `musicrnn.tasks`). A config.json written by an older musicrnn
reads as today's configs write it (`upgrade`).
"""

import dataclasses
import json
import logging
import os
import re

import ml_collections
import tensorflow as tf

from musicrnn import encodings
from musicrnn import models
from musicrnn import paths
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.errors import first_line

CONFIG_JSON = 'config.json'
CHECKPOINTS = 'checkpoints'
# The model of the best evaluation (`trainer.train`), and what it scored.
BEST = 'best'
BEST_JSON = 'best.json'
EVAL_METRICS_JSON = 'eval_metrics.json'


def _read_json(path):
  with tf.io.gfile.GFile(path) as f:
    try:
      return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise UsageError(f'{path} is corrupt (not valid JSON: {e})') from e


def write_json_atomically(path, value):
  """Writes JSON to a temporary file, then renames it over `path`."""
  tmp = f'{path}.tmp-{os.getpid()}'
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
  # Absolute, and relative to the run: found again when the run folder
  # moves alone, or together with its dataset.
  record['dataset']['dir'] = paths.absolute(dataset_dir)
  record['dataset']['dir_from_run'] = paths.relative_to(dataset_dir, run_dir)
  if tf.io.gfile.exists(path):
    saved = _read_json(path)
    upgrade(saved.get('config'))
    resumable = _resumable_changes(saved.get('config', {}), record['config'])
    if saved.get('config') != record['config'] and not resumable:
      changed = sorted(_diff(saved.get('config', {}), record['config']))
      raise UsageError(
          f'{run_dir} holds a run of another config (differs in: '
          f'{", ".join(changed[:8])}); resume it with the same --config and '
          'overrides, or choose a new --run_dir')
    if saved.get('encoding') != encoding_spec:
      raise UsageError(f'{run_dir} was trained on encoding {saved.get("encoding")}, '
                       f'this data has {encoding_spec}')
    if resumable:
      # Kept in config.json (the run goes on with them, and a later resume
      # compares against them), each change listed in `changes` in order.
      logging.info('musicrnn train: %s resumes with %s', run_dir, ', '.join(
          f'{key} {before} -> {after}' for key, before, after in resumable))
      saved['config'] = record['config']
      saved.setdefault('changes', []).extend(
          {'setting': key, 'before': before, 'after': after}
          for key, before, after in resumable)
      write_json_atomically(path, saved)
    return True
  write_json_atomically(path, record)
  return False


# Settings a run may resume with changed: they change no weight, no data
# and no optimizer state (fine-tuning at a lower dropout, as Magenta's
# --hparams could on a restart).
RESUMABLE_SETTINGS = (('model', 'dropout_rate'),)


def _resumable_changes(saved, config):
  """[(setting, saved value, new value)] of the RESUMABLE_SETTINGS that
  differ, when nothing else does; [] otherwise."""
  changes, rest_saved, rest_new = [], json.loads(json.dumps(saved)), json.loads(
      json.dumps(config))
  for section, key in RESUMABLE_SETTINGS:
    before = rest_saved.get(section, {}).pop(key, None)
    after = rest_new.get(section, {}).pop(key, None)
    if before != after:
      changes.append((f'{section}.{key}', before, after))
  return changes if rest_saved == rest_new else []


# Settings added to the configs after runs were first written, with the
# value that gives the old behaviour: a saved config without one has it.
NEW_SETTINGS = {('data', 'length_unit'): 'events',
                ('train', 'bucket_boundaries'): [],
                ('train', 'lr_decay_patience'): 0,
                ('train', 'lr_decay_factor'): 0.1}
# Settings runs were written with that configs no longer have: what kind of
# model a run is comes from its family's protocol (`musicrnn.models.protocols`),
# not from `train.objective`.
RETIRED_SETTINGS = (('train', 'objective'),)


def upgrade(config):
  """Makes a saved config dict read as today's configs write it, in place:
  NEW_SETTINGS added, RETIRED_SETTINGS dropped, and the model arguments its
  family retired (the model class's `RETIRED_ARGUMENTS`, at the one value
  they could hold) dropped. Anything else is left for the model to refuse.
  Returns `config`."""
  if not isinstance(config, dict):
    return config
  for (section, key), value in NEW_SETTINGS.items():
    if isinstance(config.get(section), dict) and key not in config[section]:
      config[section][key] = value
  for section, key in RETIRED_SETTINGS:
    if isinstance(config.get(section), dict):
      config[section].pop(key, None)
  family = config.get('family')
  model = config.get('model')
  if family in models.FAMILIES and isinstance(model, dict):
    for key, value in models.model_class(family).RETIRED_ARGUMENTS.items():
      if key in model and model[key] == value:
        del model[key]
  return config


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
  path = os.path.join(paths.absolute(run_dir), CONFIG_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{run_dir} is not a musicrnn run directory (no {CONFIG_JSON}; '
                     'train one with musicrnn_train)')
  record = _read_json(path)
  if not isinstance(record, dict) or not all(
      isinstance(record.get(key), dict) for key in ('config', 'encoding')):
    raise UsageError(f'{path} lacks its config or encoding')
  return (ml_collections.ConfigDict(upgrade(record['config'])),
          record['encoding'])


def dataset_dir(run_dir):
  """The dataset folder a run was trained on (recorded in config.json): where
  it was, or else where it is relative to the run (both moved together)."""
  path = os.path.join(paths.absolute(run_dir), CONFIG_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{run_dir} is not a musicrnn run directory (no {CONFIG_JSON})')
  recorded = _read_json(path).get('dataset', {})
  where = recorded.get('dir')
  beside = recorded.get('dir_from_run')
  if where and not tf.io.gfile.exists(where) and isinstance(beside, str):
    moved = os.path.normpath(os.path.join(paths.absolute(run_dir), beside))
    if tf.io.gfile.exists(moved):
      return moved
  return where


def checkpoint_dir(run_dir, best=False):
  """The run's checkpoint folder, absolute (TensorFlow's checkpoint manager
  resolves a relative folder against itself); with `best`, the folder of
  the best evaluation's model."""
  return os.path.join(paths.absolute(run_dir), BEST if best else CHECKPOINTS)


@dataclasses.dataclass
class LoadedRun:
  """A trained run, ready to sample: config, codec, controls, model, its
  task (`musicrnn.tasks`) and step."""
  config: object
  codec: object
  controls: list
  model: object
  task: object
  step: int


def checkpoint_paths(directory):
  """The checkpoints TensorFlow's index file lists, newest first.

  Only checkpoints whose writing finished are listed: TensorFlow writes a
  checkpoint's files under a temporary name, renames them, then rewrites the
  index file `checkpoint` (atomically), so a process killed mid-write leaves
  a torn checkpoint that is not listed.

  Raises:
    UsageError: the index file is not a valid checkpoint state.
  """
  index = os.path.join(directory, 'checkpoint')
  try:
    state = tf.train.get_checkpoint_state(directory)
    problem = 'not a checkpoint state'  # TensorFlow logs it, returns None
  except Exception as e:  # pylint: disable=broad-except
    state, problem = None, f'{type(e).__name__}: {first_line(e)}'
  if state is None:
    if tf.io.gfile.exists(index):
      # Truncated or edited by hand.
      raise UsageError(
          f'{index} is corrupt ({problem}); restore it from a backup or move '
          'the checkpoints folder away to start over')
    return []
  listed = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path and state.model_checkpoint_path not in listed:
    listed.append(state.model_checkpoint_path)
  # A run's checkpoints always lie in its checkpoint folder, whatever path
  # the index holds (relative names, or absolute ones from before the run
  # folder was moved or copied).
  return [os.path.join(directory, os.path.basename(p)) for p in reversed(listed)]


def remove_torn_checkpoints(directory):
  """Deletes what a killed checkpoint write left behind: `ckpt-N_temp`
  folders, and checkpoint files newer than the newest listed checkpoint.

  Returns:
    The deleted paths.
  """
  if not tf.io.gfile.isdir(directory):
    return []
  listed = checkpoint_paths(directory)
  newest = _checkpoint_number(listed[0]) if listed else -1
  removed = []
  for name in tf.io.gfile.listdir(directory):
    name = name.rstrip('/')
    path = os.path.join(directory, name)
    number = _checkpoint_number(name)
    if number is None:
      continue
    if name.endswith('_temp') or number > newest:
      if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
      else:
        tf.io.gfile.remove(path)
      removed.append(path)
  if removed:
    logging.warning('removed %d file(s) of a checkpoint whose writing was '
                    'interrupted: %s', len(removed), ', '.join(sorted(removed)))
  return removed


def _checkpoint_number(path):
  """N of '.../ckpt-N', 'ckpt-N.index', 'ckpt-N_temp'; None for other names."""
  match = re.match(r'ckpt-(\d+)(?:_temp|\.|$)', os.path.basename(path))
  return int(match.group(1)) if match else None


def restore_checkpoint(checkpoint, directory, *, fall_back=False, partial=False):
  """Restores the newest checkpoint under `directory` into `checkpoint`.

  Checkpoints are TensorFlow tensor bundles: restoring reads tensors and
  their CRC32C checksums, never unpickles or runs anything, so a truncated or
  tampered file is an error, not code.

  Args:
    checkpoint: a tf.train.Checkpoint.
    directory: the checkpoint folder.
    fall_back: on an unreadable newest checkpoint, log a warning and try the
      one before (training resumes from the last complete checkpoint);
      otherwise it is an error.
    partial: allow the checkpoint to hold more than `checkpoint` (the
      optimizer, when loading a model to sample).

  Returns:
    The restored checkpoint's path, or None when there is none.

  Raises:
    UsageError: a checkpoint is unreadable (or all are, with fall_back).
  """
  problems = []
  for path in checkpoint_paths(directory):
    try:
      status = checkpoint.restore(path)
      if partial:
        status = status.expect_partial()
      status.assert_existing_objects_matched()
      if problems:
        logging.warning('restored %s, the newest readable checkpoint', path)
      return path
    except Exception as e:  # pylint: disable=broad-except
      # Truncated bundles raise IndexError, torn ones OpError, a checkpoint
      # of another model AssertionError: all mean it cannot be used.
      problem = f'{path} cannot be restored ({type(e).__name__}: {first_line(e)})'
      if not fall_back:
        cause = ('its files are missing (deleted, or not copied with the '
                 'index)' if isinstance(e, tf.errors.NotFoundError) else
                 'it is truncated, tampered with or from another model')
        raise UsageError(f'checkpoint {problem}; {cause}') from e
      logging.warning('checkpoint %s; trying the one before', problem)
      problems.append(problem)
  if problems:
    raise UsageError('no checkpoint under ' + directory + ' can be restored: '
                     + '; '.join(problems)
                     + '. Move the folder away to start the run over')
  return None


def load_run(run_dir, best=False):
  """Rebuilds the model of `run_dir` and restores its latest checkpoint
  (with `best`: the model of its best evaluation, run_dir/best).

  Nothing in the folder is executed: config.json is JSON, the checkpoint is
  a TensorFlow tensor bundle read with checksums.

  Raises:
    UsageError: not a run directory, no checkpoint yet, or a config.json or
      checkpoint that is damaged or tampered with.
  """
  config, encoding = load(run_dir)
  try:
    codec = encodings.codec.codec_from_spec(encoding)
    controls = encodings.controls_from_config(config)
    model = models.build_model(config, codec, controls)
  except Exception as e:  # pylint: disable=broad-except
    # config.json is data: a value a model cannot be built from means the
    # file was edited or damaged, not a bug to show a traceback for.
    raise UsageError(
        f'{os.path.join(run_dir, CONFIG_JSON)} does not describe a model '
        f'musicrnn can build ({type(e).__name__}: {first_line(e)}); it was '
        'edited or damaged') from e
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(model=model, step=step)
  if restore_checkpoint(checkpoint, checkpoint_dir(run_dir, best),
                        partial=True) is None:
    if best:
      raise UsageError(f'{run_dir} has no best model: it was trained without '
                       'evaluations (no eval data)')
    raise UsageError(f'{run_dir} has no checkpoint yet; train it with musicrnn_train')
  return LoadedRun(config, codec, controls, model, tasks.for_config(config),
                   int(step.numpy()))
