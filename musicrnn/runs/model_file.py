"""One file per trained model (.mrnn): config, codec spec and weights.

  model_file.export_run('/tmp/perf_run', '/tmp/perf.mrnn')
  run_dir = model_file.unpack('/tmp/perf.mrnn', '/tmp/unpacked')  # a run folder

An .mrnn file is a zip archive of exactly three members:
  musicrnn_model.json   {'format', 'format_version', 'config', 'encoding',
                         'step', 'exported_from'}: JSON, read as data
  weights.index,        the model's weights (and step) as a TensorFlow
  weights.data-00000-of-00001   tensor bundle, read with checksums
No pickles, no code, no optimizer state: loading reads JSON and tensors,
and nothing in the file is run. `unpack` refuses any other member name
(a path, a link) and members larger than their limit, then writes a run
folder `musicrnn_generate`, `musicrnn_evaluate` (with --data) and
`musicrnn_train --init_from` read.
"""

import json
import os
import shutil
import tempfile
import zipfile

import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.runs import run_dir as run_dir_lib

FORMAT = 'musicrnn_model'
FORMAT_VERSION = 1
METADATA = 'musicrnn_model.json'
WEIGHTS = 'weights'
_MEMBERS = (METADATA, f'{WEIGHTS}.index', f'{WEIGHTS}.data-00000-of-00001')
# Limits on what unpacking writes, per member.
MAX_METADATA_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 16 << 30


def is_model_file(path):
  """Whether `path` is a zip archive (an .mrnn file rather than a .mag)."""
  return tf.io.gfile.exists(path) and zipfile.is_zipfile(path)


def export_run(run_dir, output):
  """Writes the latest checkpoint of `run_dir` as one .mrnn file; returns
  (output, step).

  Raises:
    UsageError: no run or no checkpoint, or `output` exists.
  """
  if tf.io.gfile.exists(output):
    raise UsageError(f'--output={output} exists; choose another name or remove it')
  config, encoding = run_dir_lib.load(run_dir)
  run = run_dir_lib.load_run(run_dir)
  folder = tempfile.mkdtemp(prefix='musicrnn-export-')
  try:
    step = tf.Variable(run.step, dtype=tf.int64)
    # A checkpoint as the trainer saves it (with its save counter).
    prefix = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=run.model, step=step), folder, max_to_keep=1,
        checkpoint_name=WEIGHTS).save(checkpoint_number=0)
    metadata = {'format': FORMAT, 'format_version': FORMAT_VERSION,
                'config': config.to_dict(), 'encoding': encoding,
                'step': run.step, 'exported_from': os.path.abspath(run_dir)}
    partial = f'{output}.partial'
    with zipfile.ZipFile(partial, 'w', zipfile.ZIP_DEFLATED) as archive:
      archive.writestr(METADATA, json.dumps(metadata, indent=2, sort_keys=True))
      for member in _MEMBERS[1:]:
        archive.write(prefix + member[len(WEIGHTS):], member)
    os.replace(partial, output)
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return output, run.step


def read_metadata(path):
  """The metadata JSON of an .mrnn file, checked.

  Raises:
    UsageError: not an .mrnn file, or one of another format version.
  """
  with _open(path) as archive:
    return _metadata(archive, path)


def _open(path):
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{path} does not exist')
  try:
    return zipfile.ZipFile(path)
  except zipfile.BadZipFile as e:
    raise UsageError(f'{path} is not a musicrnn model file (.mrnn): {e}') from e


def _metadata(archive, path):
  names = sorted(archive.namelist())
  if names != sorted(_MEMBERS):
    raise UsageError(f'{path} is not a musicrnn model file: it holds '
                     f'{names[:6]}, not {list(_MEMBERS)}')
  info = archive.getinfo(METADATA)
  if info.file_size > MAX_METADATA_BYTES:
    raise UsageError(f'{path}: {METADATA} is {info.file_size} bytes, over the '
                     f'{MAX_METADATA_BYTES} limit')
  try:
    metadata = json.loads(archive.read(METADATA).decode('utf-8'))
  except (ValueError, UnicodeDecodeError) as e:
    raise UsageError(f'{path}: {METADATA} is not valid JSON: {e}') from e
  if not isinstance(metadata, dict) or metadata.get('format') != FORMAT:
    raise UsageError(f'{path} is not a musicrnn model file ({METADATA} names '
                     'another format)')
  if metadata.get('format_version') != FORMAT_VERSION:
    raise UsageError(f'{path} has format_version '
                     f'{metadata.get("format_version")!r}; this musicrnn reads '
                     f'{FORMAT_VERSION}')
  if not all(isinstance(metadata.get(k), dict) for k in ('config', 'encoding')):
    raise UsageError(f'{path}: {METADATA} lacks its config or encoding')
  return metadata


def unpack(path, run_dir):
  """Writes the model of an .mrnn file as a run folder `run_dir` (its
  checkpoint at the exported step); returns `run_dir`.

  Raises:
    UsageError: not a valid .mrnn file (see the module docstring).
  """
  with _open(path) as archive:
    metadata = _metadata(archive, path)
    checkpoints = run_dir_lib.checkpoint_dir(run_dir)
    tf.io.gfile.makedirs(checkpoints)
    step = int(metadata.get('step') or 0)
    for member in _MEMBERS[1:]:
      info = archive.getinfo(member)
      if info.file_size > MAX_WEIGHTS_BYTES:
        raise UsageError(f'{path}: {member} is {info.file_size} bytes, over the '
                         f'{MAX_WEIGHTS_BYTES} limit')
      target = os.path.join(checkpoints, f'ckpt-{step}' + member[len(WEIGHTS):])
      with archive.open(member) as source, open(target, 'wb') as sink:
        shutil.copyfileobj(source, sink)
  # The index file a CheckpointManager writes (a text CheckpointState).
  with open(os.path.join(checkpoints, 'checkpoint'), 'w') as f:
    f.write(f'model_checkpoint_path: "ckpt-{step}"\n'
            f'all_model_checkpoint_paths: "ckpt-{step}"\n')
  run_dir_lib.write_json_atomically(
      os.path.join(run_dir, run_dir_lib.CONFIG_JSON),
      {'config': metadata['config'], 'encoding': metadata['encoding'],
       'dataset': {'input': f'model file {os.path.abspath(path)}'}})
  return run_dir


def check_compatible(source, config, encoding):
  """Raises UsageError, naming the settings, unless the model of `source`
  (an .mrnn file or a run folder) has the model settings and encoding of
  `config`: only then do its weights fit the model `config` builds."""
  if is_model_file(source):
    metadata = read_metadata(source)
    # Read as today's configs write it, as a run folder's config.json is.
    theirs = run_dir_lib.upgrade(metadata['config'])
    their_encoding = metadata['encoding']
  else:
    saved, their_encoding = run_dir_lib.load(source)
    theirs = saved.to_dict()
  ours = json.loads(json.dumps(config.to_dict()))
  theirs = json.loads(json.dumps(theirs))
  # A setting a run may resume with changed (dropout) leaves the weights
  # fitting: fine-tuning may change it too.
  free = {key for section, key in run_dir_lib.RESUMABLE_SETTINGS
          if section == 'model'}
  differ = sorted(f'model.{k}' for k in set(ours['model']) | set(theirs.get('model', {}))
                  if k not in free
                  and ours['model'].get(k) != theirs.get('model', {}).get(k))
  if json.loads(json.dumps(encoding)) != their_encoding:
    differ.append('encoding')
  if differ:
    raise UsageError(
        f'--init_from={source} holds a model of other settings than config '
        f'{config.name!r} (differs in: {", ".join(differ)}); train with its '
        f'settings (its config is {theirs.get("name")!r})')


def restore_weights(model, source):
  """Loads the weights of `source` (an .mrnn file or a run folder) into
  `model` (built from a config of the same model settings); returns the
  step they were saved at.

  Raises:
    UsageError: unreadable, or weights of another model.
  """
  folder = None
  try:
    if is_model_file(source):
      folder = tempfile.mkdtemp(prefix='musicrnn-init-')
      source = unpack(source, os.path.join(folder, 'run'))
    step = tf.Variable(0, dtype=tf.int64)
    restored = run_dir_lib.restore_checkpoint(
        tf.train.Checkpoint(model=model, step=step),
        run_dir_lib.checkpoint_dir(source), partial=True)
    if restored is None:
      raise UsageError(f'--init_from={source} has no checkpoint')
    return int(step.numpy())
  finally:
    if folder:
      shutil.rmtree(folder, ignore_errors=True)
