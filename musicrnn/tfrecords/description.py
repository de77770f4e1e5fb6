"""dataset.json: the small description a dataset folder carries of itself.

Written last by musicrnn_create_dataset (its presence means the dataset is
complete); read by the trainer and by tf.data input. Fields: format_version,
config_name, encoding (codec spec), sequence_features, config (resolved),
eval_ratio, input, and per split: files, examples, events, notesequences.

`check_encoding` says whether a config can train on (or be scored on) a
dataset so described.
"""

import json
import os

from musicrnn import configs
from musicrnn import encodings
from musicrnn.encodings import controls as controls_lib
from musicrnn.errors import UsageError
from musicrnn.tfrecords import schema

DATASET_JSON = 'dataset.json'
STATS_JSON = 'stats.json'
FORMAT_VERSION = 1


def read_description(dataset_dir):
  """The parsed dataset.json of `dataset_dir` (local or gs://, via tf.io.gfile).

  Raises:
    UsageError: the folder holds no (complete) musicrnn dataset.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  path = os.path.join(dataset_dir, DATASET_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{dataset_dir} is not a musicrnn dataset (no {DATASET_JSON}; '
                     'build one with musicrnn_create_dataset)')
  with tf.io.gfile.GFile(path) as f:
    try:
      description = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise UsageError(f'{path} is not valid JSON: {e}') from e
  if not isinstance(description, dict):
    raise UsageError(f'{path} is not a dataset description (a JSON object)')
  if description.get('format_version') != FORMAT_VERSION:
    raise UsageError(f'{path} has format_version '
                     f'{description.get("format_version")!r}; this musicrnn reads '
                     f'{FORMAT_VERSION}')
  return description


def check_encoding(config, description, data_dir, training=True):
  """Raises UsageError when a dataset was built for another encoding, other
  control signals, or (`training`) other data settings than `config`'s."""
  expected = encodings.codec_from_config(config).spec()
  found = description['encoding']
  if found != expected:
    if found.get('name') == expected['name']:
      theirs, ours = found.get('settings', {}), expected['settings']
      differ = sorted(k for k in set(theirs) | set(ours)
                      if theirs.get(k) != ours.get(k))
      # A learned vocabulary is long: name the setting, not its value.
      what = ('other encoding settings: ' + ', '.join(
          f'{k}={_short(theirs.get(k))} (config {config.name!r}: '
          f'{_short(ours.get(k))})' for k in differ))
    else:
      what = f'{found}; config {config.name!r} needs {expected}'
    raise UsageError(
        f'{data_dir} holds {found["name"]} data built for config '
        f'{description.get("config_name")!r} ({what}). Build a dataset with '
        f'--config={config.name}')
  check_data_settings(config, description, data_dir, training)
  wanted = set(schema.sequence_features_for(config))
  if not wanted <= set(description['sequence_features']):
    missing = sorted(wanted - set(description['sequence_features']))
    raise UsageError(f'{data_dir} lacks the control signals {missing} that config '
                     f'{config.name!r} conditions on; build it with '
                     f'--config={config.name}')


def _short(value):
  text = json.dumps(value)
  return text if len(text) <= 40 else f'{text[:30]}... ({len(value)} items)'


# Settings a model depends on that are fixed when the data is built: how
# long examples are and how they were cut, and what the control signals mean
# (each control's settings, in the config's `controls` section).
DATA_SETTINGS = ('data.chunk_seconds', 'data.split_on_time_changes',
                 'data.long_sequences', 'data.max_events', 'data.length_unit')
CONTROL_SETTINGS = {
    cls.name: tuple(f'controls.{key}' for key in cls.config_keys)
    for cls in controls_lib.CONTROLS}
_DEFAULTS = {'data.length_unit': 'events'}


def _setting(config, dotted):
  """A setting of a config as JSON (a dict), None when it lacks it."""
  value = config
  for part in dotted.split('.'):
    value = value.get(part) if isinstance(value, dict) else None
  return _DEFAULTS.get(dotted) if value is None else value


def data_settings(description):
  """{dotted name: value} of the DATA_SETTINGS data was built with (empty for
  data that does not record its config), for `configs.apply_overrides`: a
  config trained on that data must have them."""
  built = description.get('config') or {}
  settings = {}
  for name in DATA_SETTINGS:
    value = _setting(built, name)
    if value is not None:
      settings[name] = tuple(value) if isinstance(value, list) else value
  return settings


def check_data_settings(config, description, data_dir, training=True):
  """Raises UsageError, naming both values, when the data was built with
  other settings than `config`: the meaning of the control signals the
  config uses (CONTROL_SETTINGS) and, for training, how examples are cut
  (DATA_SETTINGS; a model is scored on any cut of the music). Data that does
  not record its config (a TFRecord glob) is not checked."""
  built = description.get('config')
  if not built:
    return
  ours_config = json.loads(configs.to_json(config))
  names = list(DATA_SETTINGS) if training else []
  for control, settings in CONTROL_SETTINGS.items():
    if config.controls.get(control):
      names.extend(settings)
  differ = [(name, _setting(ours_config, name), _setting(built, name))
            for name in names]
  differ = [(name, ours, theirs) for name, ours, theirs in differ
            if ours != theirs]
  if differ:
    built_with = ', '.join(f'{name}={theirs!r}' for name, _, theirs in differ)
    has = ', '.join(f'{name}={ours!r}' for name, ours, _ in differ)
    flags_ = ' '.join(f'--config.{name}={json.dumps(theirs)}'
                      for name, _, theirs in differ)
    remedy = (f'rebuild the data with this config, or train with {flags_}'
              if training else 'score it on data built with its config')
    raise UsageError(f'{data_dir} was built with {built_with}, but config '
                     f'{config.name!r} has {has}; {remedy}')
