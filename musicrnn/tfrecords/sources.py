"""Where training data comes from: one interface over three kinds of input.

  source = sources.open_source('/tmp/perf_dataset')        # musicrnn_create_dataset
  source = sources.open_source('tfds:musicrnn/polyphony',  # a TFDS dataset by name
                               tfds_data_dir='~/tensorflow_datasets')
  source = sources.open_source('~/tensorflow_datasets/musicrnn/polyphony/1.0.0')
  source = sources.open_source('/data/perf/train.tfrecord-*')  # TFRecord glob
  features = source.records('train', shuffle=True, repeat=True, seed=0)

Every source has a `description` (the fields of dataset.json the trainer
needs: config_name, encoding, sequence_features) and gives each split as a
tf.data.Dataset of feature dicts named by `musicrnn.tfrecords.schema`:
tokens int, each control signal's feature (int classes, or float32 [time]
+ its shape), pianoroll float32 [steps, cells], length int64, id string.

A TFRecord glob holds one unnamed split of musicrnn SequenceExamples; its
encoding is read from the first record, and it serves whichever split it is
asked for (so a glob given as training data is not also evaluated).
"""

import json
import os
import re

import numpy as np
import tensorflow as tf

from musicrnn import encodings
from musicrnn import paths
from musicrnn.errors import UsageError
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import schema

TFDS_PREFIX = 'tfds:'
# Shards a reader interleaves at once (each holds a read buffer).
MAX_OPEN_FILES = 64
TFDS_DATASET_INFO = 'dataset_info.json'
_VERSION = re.compile(r'^\d+\.\d+\.\d+$')

FORMS = (
    'a dataset folder of musicrnn_create_dataset (it holds dataset.json), '
    'a TFDS dataset as tfds:NAME/CONFIG[:VERSION] (with --tfds_data_dir) or '
    'as its folder (it holds dataset_info.json), or a glob of musicrnn '
    'SequenceExample TFRecord files')


def _num_cells(description):
  """The cells of a pianoroll row (the codec's vocab_size), or None."""
  if schema.PIANOROLL not in description['sequence_features']:
    return None
  return encodings.codec.codec_from_spec(description['encoding']).vocab_size


def parse_fn(sequence_features, num_cells=None):
  """A function: serialized SequenceExample -> dict of tensors.

  Args:
    sequence_features: the schema's names of the feature lists to read.
    num_cells: cells of a pianoroll row (its packed bits are cut to it).
  """
  context_spec, sequence_spec = schema.parsing_spec(sequence_features)

  def parse(serialized):
    context, sequences = tf.io.parse_single_sequence_example(
        serialized, context_features=context_spec,
        sequence_features=sequence_spec)
    features = dict(sequences)
    if schema.PIANOROLL in features:
      packed = tf.io.decode_raw(features[schema.PIANOROLL], tf.uint8)
      bits = tf.bitwise.right_shift(
          packed[..., tf.newaxis], tf.constant([7, 6, 5, 4, 3, 2, 1, 0], tf.uint8))
      bits = tf.bitwise.bitwise_and(bits, 1)
      bits = tf.reshape(bits, [tf.shape(packed)[0], -1])[:, :num_cells]
      features[schema.PIANOROLL] = tf.cast(bits, tf.float32)
    features[schema.LENGTH] = context[schema.LENGTH]
    features[schema.ID] = context[schema.ID]
    return features

  return parse


class DataSource:
  """Base: `location` reopens the source; `description` describes it."""

  single_split = False

  def __init__(self, location, description):
    self.location = location
    self.description = description

  def has_split(self, split):
    return bool(self.num_examples(split))

  def validation_split(self):
    """The split a trainer validates on and an evaluation scores by
    default: the one dataset.json names (a benchmark's published 'valid'),
    else 'eval'."""
    return self.description.get('validation_split') or 'eval'

  def split_names(self):
    """The splits that hold examples."""
    return [s for s in self.description.get('splits', {}) if self.has_split(s)]

  def absolute_location(self):
    """`location`, made absolute when it is a local path."""
    return paths.absolute(self.location)

  def num_examples(self, split):
    return self.description['splits'].get(split, {}).get('examples', 0)

  def records(self, split, *, shuffle, repeat, seed=None, shuffle_buffer=10_000):
    raise NotImplementedError

  def __repr__(self):
    return f'{type(self).__name__}({self.location!r})'


def _start_records(num_examples, num_files, seed):
  """Where each of `num_files` shards is first read: a seeded record among
  the shard's share of `num_examples` (0 when the count is unknown)."""
  per_file = (num_examples or 0) // num_files
  return np.random.default_rng(None if seed is None else [seed, 1]).integers(
      0, max(per_file, 1), size=num_files)


def _rotated(path, start):
  """The records of `path` from record `start` on, then those before it:
  every record once a pass."""
  return tf.data.TFRecordDataset(path).skip(start).concatenate(
      tf.data.TFRecordDataset(path).take(start))


class _TFRecordSource(DataSource):
  """SequenceExample TFRecord files: parsed with the schema's spec."""

  def files(self, split):
    raise NotImplementedError

  def records(self, split, *, shuffle, repeat, seed=None, shuffle_buffer=10_000):
    files = self.files(split)
    if not files:
      raise UsageError(f'{self.location} has no {split} files')
    if shuffle:
      # Each shard is read from a seeded record on (then its first records):
      # the shards are already a random permutation, and without this every
      # seed, and every resumed run, would start on the same first records of
      # every shard, and a run shorter than a pass over the data would train
      # on the same part of it whatever its seed.
      files = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
      starts = _start_records(self.num_examples(split), len(files), seed)
      ds = tf.data.Dataset.from_tensor_slices((files, starts))
      read = _rotated
    else:
      ds = tf.data.Dataset.from_tensor_slices(files)
      read = tf.data.TFRecordDataset
    # Up to MAX_OPEN_FILES shards open at once, read a record at a time in
    # turn: the stream mixes them before the shuffle buffer
    # (musicrnn_create_dataset also writes the examples in a random order).
    ds = ds.interleave(read, cycle_length=min(len(files), MAX_OPEN_FILES),
                       block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=seed is not None or not shuffle)
    if repeat:
      ds = ds.repeat()
    if shuffle:
      # Shuffled while still serialized: a tenth of the memory of parsed
      # examples with pitch histograms.
      ds = ds.shuffle(shuffle_buffer, seed=seed)
    return ds.map(parse_fn(tuple(self.description['sequence_features']),
                           _num_cells(self.description)),
                  num_parallel_calls=tf.data.AUTOTUNE)


class DatasetFolder(_TFRecordSource):
  """A folder written by musicrnn_create_dataset."""

  def __init__(self, path):
    super().__init__(path, description_lib.read_description(path))

  def files(self, split):
    try:
      names = list(self.description['splits'].get(split, {}).get('files', []))
    except (AttributeError, KeyError, TypeError) as e:
      raise UsageError(f'{self.location}/{description_lib.DATASET_JSON} is damaged: '
                       f'no file list for split {split!r}') from e
    for name in names:
      # dataset.json names the folder's own shards, nothing elsewhere.
      if not isinstance(name, str) or os.path.basename(name) != name or \
          name in ('', '.', '..'):
        raise UsageError(f'{self.location}/{description_lib.DATASET_JSON} lists '
                         f'{name!r}, not a file of the dataset folder')
    return [os.path.join(self.location, name) for name in names]


class TFRecordGlob(_TFRecordSource):
  """TFRecord files of musicrnn SequenceExamples, matched by a glob."""

  single_split = True

  def __init__(self, pattern, files):
    super().__init__(pattern, _describe_records(pattern, files))
    self._files = files

  def num_examples(self, split):
    return None  # unknown without reading every file

  def has_split(self, split):
    return True

  def files(self, split):
    return list(self._files)


def _describe_records(pattern, files):
  """A description from the first SequenceExample of `files`."""
  first = None
  for path in files:
    for record in tf.data.TFRecordDataset(path).take(1):
      first = record.numpy()
    if first is not None:
      break
  if first is None:
    raise UsageError(f'{pattern} matches only empty files')
  not_ours = UsageError(
      f'{pattern} does not hold musicrnn SequenceExamples (its first record '
      'has no encoding); build a dataset with musicrnn_create_dataset')
  try:
    example = tf.train.SequenceExample.FromString(first)
  except Exception as e:  # pylint: disable=broad-except
    raise not_ours from e
  context = example.context.feature
  if schema.ENCODING not in context or not context[schema.ENCODING].bytes_list.value:
    raise not_ours
  try:
    encoding = json.loads(context[schema.ENCODING].bytes_list.value[0])
  except (ValueError, UnicodeDecodeError) as e:
    raise not_ours from e
  present = set(example.feature_lists.feature_list)
  return {
      'config_name': None,
      'encoding': encoding,
      'sequence_features': [f for f in schema.SEQUENCE_FEATURES if f in present],
      'input': pattern,
      'splits': {},
  }


class TfdsDataset(DataSource):
  """A dataset built by musicrnn's TFDS builder (`tfds build musicrnn`)."""

  def __init__(self, builder):
    metadata = builder.info.metadata or {}
    missing = [k for k in ('encoding', 'sequence_features') if k not in metadata]
    if missing:
      raise UsageError(
          f'TFDS dataset {builder.info.full_name} at {builder.data_dir} was not '
          f'built by musicrnn\'s builder (its metadata lacks {missing}); build '
          'one with tfds build musicrnn --imports=musicrnn.pipelines.tfds_builders')
    description = {
        'config_name': metadata.get('config_name'),
        'encoding': dict(metadata['encoding']),
        'sequence_features': list(metadata['sequence_features']),
        'config': metadata.get('config'),
        'validation_split': metadata.get('validation_split'),
        'input': f'{TFDS_PREFIX}{builder.info.full_name}',
        'splits': {name: {'examples': split.num_examples}
                   for name, split in builder.info.splits.items()},
    }
    super().__init__(os.fspath(builder.data_dir), description)
    self._builder = builder

  def records(self, split, *, shuffle, repeat, seed=None, shuffle_buffer=10_000):
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    if split not in self._builder.info.splits:
      raise UsageError(f'{self.location} has no {split} split (it has '
                       f'{", ".join(self._builder.info.splits)})')
    ds = self._builder.as_dataset(
        split=split, shuffle_files=shuffle,
        read_config=tfds.ReadConfig(shuffle_seed=seed, interleave_block_length=1))
    if repeat:
      ds = ds.repeat()
    if shuffle:
      ds = ds.shuffle(shuffle_buffer, seed=seed)
    names = tuple(self.description['sequence_features'])
    # Float features as parse_fn gives them: piano rolls (bool in TFDS) and
    # float control signals in float32.
    floats = {schema.PIANOROLL} | {
        name for name, feature in schema.CONTROL_FEATURES.items()
        if feature.dtype == 'float32'}

    def to_schema(example):
      features = {schema.LENGTH: tf.cast(example[schema.LENGTH], tf.int64),
                  schema.ID: example[schema.ID]}
      for name in names:
        value = example[name]
        features[name] = (tf.cast(value, tf.float32) if name in floats
                          else value)
      return features

    return ds.map(to_schema, num_parallel_calls=tf.data.AUTOTUNE)


def _tfds_version_dir(path):
  """`path` if it holds a built TFDS dataset, else its newest version folder."""
  if tf.io.gfile.exists(os.path.join(path, TFDS_DATASET_INFO)):
    return path
  if not tf.io.gfile.isdir(path):
    return None
  versions = sorted((tuple(int(p) for p in name.rstrip('/').split('.')), name)
                    for name in tf.io.gfile.listdir(path)
                    if _VERSION.match(name.rstrip('/')))
  for _, name in reversed(versions):
    candidate = os.path.join(path, name.rstrip('/'))
    if tf.io.gfile.exists(os.path.join(candidate, TFDS_DATASET_INFO)):
      return candidate
  return None


# TFDS imports the module named by each feature's class in features.json;
# a dataset folder may only name TFDS's own feature classes.
_TFDS_FEATURES_JSON = 'features.json'
_TFDS_FEATURE_MODULES = 'tensorflow_datasets.core.features.'


def _check_tfds_features(version_dir):
  """Refuses a TFDS folder whose features.json names a class outside TFDS's
  features (TFDS would import its module: code chosen by the folder)."""
  path = os.path.join(version_dir, _TFDS_FEATURES_JSON)
  if not tf.io.gfile.exists(path):
    return
  with tf.io.gfile.GFile(path) as f:
    try:
      features = json.load(f)
    except json.JSONDecodeError as e:
      raise UsageError(f'{path} is corrupt (not valid JSON: {e})') from e

  def class_names(value):
    if isinstance(value, dict):
      for key, item in value.items():
        if key == 'pythonClassName':
          yield item
        else:
          yield from class_names(item)
    elif isinstance(value, list):
      for item in value:
        yield from class_names(item)

  for name in class_names(features):
    if not (isinstance(name, str) and name.startswith(_TFDS_FEATURE_MODULES)):
      raise UsageError(
          f'{path} names the feature class {name!r}, outside TFDS\'s own '
          f'({_TFDS_FEATURE_MODULES}*); refusing to import it')


_BUILD_HINT = ('build it with tfds build musicrnn '
               '--imports=musicrnn.pipelines.tfds_builders --config=CONFIG '
               '--manual_dir=YOUR_MIDI_FOLDER, or pass --tfds_data_dir')


def _check_tfds_name(name, data_dir):
  """`_check_tfds_features` on every built version of the TFDS dataset
  `name` ('musicrnn/polyphony[:1.1.0]') in `data_dir`: TFDS reads a dataset
  whose builder is not registered from its files."""
  folder = os.path.join(data_dir, *name.split(':', 1)[0].split('/'))
  if not tf.io.gfile.isdir(folder):
    return
  for entry in tf.io.gfile.listdir(folder):
    if _VERSION.match(entry.rstrip('/')):
      _check_tfds_features(os.path.join(folder, entry.rstrip('/')))


def _open_tfds_name(name, tfds_data_dir):
  """The TFDS dataset `name` of `tfds_data_dir` (default: TFDS's).

  musicrnn's builders need not be registered (`tfds_builders` runs Beam
  pipelines; this module sits below them and does not import it): TFDS then
  reads a built dataset from its files, as it does a config the builders do
  not know.
  """
  import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  tfds_data_dir = paths.absolute(tfds_data_dir or None)
  _check_tfds_name(name, tfds_data_dir or tfds.core.constants.DATA_DIR)
  try:
    builder = tfds.builder(name, data_dir=tfds_data_dir)
  except tfds.core.DatasetNotFoundError as e:
    # TFDS's message lists every dataset it knows.
    raise UsageError(
        f'no TFDS dataset {name!r} is built in '
        f'{tfds_data_dir or tfds.core.constants.DATA_DIR}; {_BUILD_HINT}') from e
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError(f'no TFDS dataset {name!r} (data_dir '
                     f'{tfds_data_dir or "TFDS default"}): {e}') from e
  if not tf.io.gfile.exists(os.path.join(os.fspath(builder.data_dir),
                                         TFDS_DATASET_INFO)):
    raise UsageError(
        f'TFDS dataset {name!r} is not built in {builder.data_dir}; {_BUILD_HINT}')
  return TfdsDataset(builder)


def open_source(spec, tfds_data_dir=None):
  """Opens training data given in any of the accepted forms (see FORMS).

  Raises:
    UsageError: `spec` names nothing readable, with the forms accepted.
  """
  if isinstance(spec, DataSource):
    return spec
  spec = os.fspath(spec)
  if spec.startswith(TFDS_PREFIX):
    return _open_tfds_name(spec[len(TFDS_PREFIX):], tfds_data_dir)
  if '://' not in spec:
    spec = os.path.expanduser(spec)
  if tf.io.gfile.exists(os.path.join(spec, description_lib.DATASET_JSON)):
    return DatasetFolder(spec)
  version_dir = _tfds_version_dir(spec)
  if version_dir:
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    _check_tfds_features(version_dir)
    return TfdsDataset(tfds.builder_from_directory(version_dir))
  if tf.io.gfile.isdir(spec):
    raise UsageError(f'{spec} holds no dataset; expected {FORMS}')
  files = sorted(tf.io.gfile.glob(spec))
  if files:
    return TFRecordGlob(spec, files)
  raise UsageError(f'{spec} matches nothing; expected {FORMS}')
