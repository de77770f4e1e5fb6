r"""TensorFlow Datasets builders: publish a folder of MIDI as a TFDS dataset.

  tfds build musicrnn --imports=musicrnn.pipelines.tfds_builders \
    --config=performance_with_dynamics --manual_dir=~/midi \
    --data_dir=~/tensorflow_datasets \
    --beam_pipeline_options=direct_running_mode=multi_processing,direct_num_workers=2

  import tensorflow_datasets as tfds
  import musicrnn.pipelines.tfds_builders  # registers the builders
  train = tfds.load('musicrnn/performance_with_dynamics', split='train',
                    data_dir='~/tensorflow_datasets')

Without musicrnn's code, `tfds.builder_from_directory(DIR)` loads a built
dataset too; `musicrnn_train --train_data=DIR` trains on it.

Three builders, Beam pipelines over the files of `manual_dir`. The first
two read music files with musicrnn_convert's reader (duplicates dropped,
broken files logged with their reason and listed in the dataset's
metadata.json):

  musicrnn                one builder config per musicrnn config
                          (`performance_with_dynamics`, `polyphony`,
                          `pianoroll_gan`, ...): the examples
                          musicrnn_create_dataset makes (the same hash split
                          and train-only augmentation), as typed features.
  musicrnn_notesequences  the NoteSequence collection itself: serialized
                          protos with id, filename and collection, split by
                          the same hash of the id.

The third publishes the 2012 polyphonic benchmark's piano rolls from its
`.mat` files (`pipelines.boulanger`), as musicrnn_create_dataset does:

  musicrnn_boulanger2012  one builder config per dataset of the paper
                          (`jsb_chorales`, `nottingham`, `musedata`,
                          `piano_midi_de`), reading its `.mat` file from
                          manual_dir; splits 'train', 'valid' and 'test' as
                          published, each piece one example.

  tfds build musicrnn_boulanger2012 --imports=musicrnn.pipelines.tfds_builders \
    --config=jsb_chorales --manual_dir=DIR_WITH_THE_MAT_FILES

Splits (of the first two): 'train' and 'eval'. metadata.json holds the codec spec, the resolved
config, the eval ratio, every stage count and the dead letters; the trainer
reads the encoding from it.

In the import layers this module sits with the pipelines, whose
`dataset.MakeExamples` it runs (as musicrnn_create_dataset does), above the
rest of `musicrnn.tfrecords`: none of that imports it (`sources` opens a
built dataset from its files).
"""

import dataclasses
import json
import logging
import os

import apache_beam as beam
import numpy as np
import tensorflow_datasets as tfds

from musicrnn import configs
from musicrnn import encodings
from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import boulanger
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
from musicrnn.pipelines import readers
from musicrnn.tfrecords import schema

EVAL_RATIO = 0.1

_CITATION = """\
@software{musicrnn,
  title = {musicrnn: music generation datasets and models on TensorFlow},
  year = {2026},
}
Please cite the MIDI corpus the dataset was built from as well."""

_MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Put your MIDI (.mid, .midi), MusicXML (.xml, .mxl, .musicxml) or ABC (.abc)
files in `manual_dir` (sub-folders are searched) and pass it with
`tfds build ... --manual_dir=DIR`. Broken files are skipped and listed in
metadata.json with their reason."""

# Encoding and stage counts, in metadata.json.
METADATA_ENCODING = 'encoding'
METADATA_CONFIG_NAME = 'config_name'
METADATA_CONFIG = 'config'
METADATA_SEQUENCE_FEATURES = 'sequence_features'
METADATA_EVAL_RATIO = 'eval_ratio'
METADATA_STATS = 'stats'
METADATA_DEADLETTERS = 'deadletters'
METADATA_VALIDATION_SPLIT = 'validation_split'


def features_for(config):
  """The TFDS features of a config's examples (the schema's names)."""
  features = {
      schema.ID: tfds.features.Text(doc='source NoteSequence id (content hash)'),
      schema.EXAMPLE_ID: tfds.features.Text(doc='unique id of this example'),
      schema.TRANSPOSITION: tfds.features.Scalar(
          np.int32, doc='semitones the example was transposed by'),
      schema.STRETCH: tfds.features.Scalar(
          np.float32, doc='time-stretch factor applied'),
      schema.LENGTH: tfds.features.Scalar(np.int32, doc='steps in the example'),
  }
  codec = encodings.codec_from_config(config)
  if codec.segmented:
    features[schema.PIANOROLL] = tfds.features.Tensor(
        shape=codec.segment_shape, dtype=np.bool_,
        encoding=tfds.features.Encoding.ZLIB,
        doc='[steps, pitches]: True where a pitch sounds')
    return tfds.features.FeaturesDict(features)
  if codec.sequence_feature == schema.PIANOROLL:
    features[schema.PIANOROLL] = tfds.features.Tensor(
        shape=(None, codec.vocab_size), dtype=np.bool_,
        encoding=tfds.features.Encoding.ZLIB,
        doc=f'[steps, {codec.vocab_size}]: the {codec.name} codec\'s bits of '
            'each step')
    return tfds.features.FeaturesDict(features)
  for name in schema.sequence_features_for(config):
    if name == schema.TOKENS:
      features[name] = tfds.features.Tensor(
          shape=(None,), dtype=np.int32,
          doc=f'event ids of the {codec.name} codec (vocabulary {codec.vocab_size})')
    elif name == schema.CHORDS:
      features[name] = tfds.features.Tensor(
          shape=(None,), dtype=np.object_,
          doc='the chord symbol over each step (note-seq\'s, N.C. for none)')
    else:
      feature = schema.CONTROL_FEATURES[name]
      features[name] = tfds.features.Tensor(
          shape=(None, *feature.shape), dtype=np.dtype(feature.tfds_dtype),
          doc=feature.doc)
  return tfds.features.FeaturesDict(features)


def to_tfds_example(features):
  """An `ExampleMaker.make_features` dict -> (key, TFDS example)."""
  example = {
      schema.ID: features['source_id'],
      schema.EXAMPLE_ID: features['example_id'],
      schema.TRANSPOSITION: int(features['transposition']),
      schema.STRETCH: float(features['stretch']),
  }
  if features.get(schema.PIANOROLL) is not None:
    roll = np.asarray(features[schema.PIANOROLL], bool)
    example[schema.PIANOROLL] = roll
    example[schema.LENGTH] = len(roll)
    return features['example_id'], example
  tokens = np.asarray(features[schema.TOKENS], np.int32)
  example[schema.TOKENS] = tokens
  example[schema.LENGTH] = len(tokens)
  if features.get(schema.CHORDS) is not None:
    example[schema.CHORDS] = [str(c) for c in features[schema.CHORDS]]
  for name, feature in schema.CONTROL_FEATURES.items():
    if features.get(name) is not None:
      example[name] = np.asarray(features[name], feature.tfds_dtype).reshape(
          -1, *feature.shape)
  return features['example_id'], example


def _log_dead_letter(entry):
  logging.warning('musicrnn tfds: skipped %s: %s: %s', entry['filename'],
                  entry['reason'], entry['message'])
  return entry


def _check_eval_split(listing, collection_name, eval_ratio, split_by):
  """Refuses a corpus none of whose files would land in the eval split.

  TFDS cannot write an empty split, and would only say so deep in the Beam
  run. ABC files (one id per tune) are not predicted and pass.
  """
  for path in listing.music_files:
    if readers.music_format(path) == 'abc':
      return
    folder = os.path.dirname(convert.relative_path(path, listing.input_dir))
    if split_by == 'folder' and folder:
      key = f'{collection_name}/{folder}'
    else:
      with open(path, 'rb') as f:
        key = readers.sequence_id(readers.content_hash(f.read()))
    if splits.is_eval(key, eval_ratio):
      return
  raise ValueError(
      f'none of the {len(listing.music_files)} music files under '
      f'{listing.input_dir} falls in the eval split at eval ratio '
      f'{eval_ratio:g}, and TFDS cannot write an empty split. Add files, or '
      'raise the ratio with a JSON config, e.g. --config=\'{"name": '
      '"polyphony_eval50", "musicrnn_config": "polyphony", "eval_ratio": '
      '0.5}\'')


def _read_manual_dir(pipeline, manual_dir, collection_name, eval_ratio,
                     split_by='id'):
  """Reads every music file of `manual_dir` (listed in the pipeline):
  ReadMusicFiles' outputs, the listing's counts among its counts."""
  input_dir = convert.input_folder(os.fspath(manual_dir))
  collection_name = collection_name or os.path.basename(input_dir)
  if '://' not in input_dir:
    listing = convert.list_music_files(input_dir)
    _check_eval_split(listing, collection_name, eval_ratio, split_by)
    logging.info('musicrnn tfds: %d music files under %s',
                 len(listing.music_files), input_dir)
  listed = pipeline | 'ListMusicFiles' >> convert.ListMusicFiles(input_dir)
  read = (listed['paths']
          | 'ReadMusicFiles' >> convert.ReadMusicFiles(
              input_dir, collection_name, readers.ReadLimits()))
  read = dict(read)
  read[beam_utils.COUNTS_TAG] = (
      (listed[beam_utils.COUNTS_TAG], read[beam_utils.COUNTS_TAG])
      | 'FlattenListingCounts' >> beam.Flatten())
  return read


def _record_outcome(info, read, more_counts=()):
  """Puts the stage counts and dead letters in the dataset's metadata.json."""
  info.metadata[METADATA_DEADLETTERS] = (
      read[convert.DEADLETTERS]
      | 'LogDeadLetters' >> beam.Map(_log_dead_letter)
      | 'SortDeadLetters' >> beam.combiners.ToList()
      | 'Sorted' >> beam.Map(lambda entries: sorted(
          entries, key=lambda e: (e['filename'], e['message']))))
  info.metadata[METADATA_STATS] = beam_utils.sum_counts(
      (read[beam_utils.COUNTS_TAG],) + tuple(more_counts), 'Stats')


@dataclasses.dataclass(eq=False)
class MusicrnnConfig(tfds.core.BuilderConfig):
  """A builder config: which musicrnn config, with what eval ratio.

  Attributes:
    musicrnn_config: the musicrnn config name (default: `name`).
    hparams: Magenta-style overrides of that config, e.g. "max_events=256".
    eval_ratio: fraction of sources (by a hash of their id) in eval.
    collection_name: stored in the NoteSequences (default: manual_dir's name).
  """
  musicrnn_config: str = ''
  hparams: str = ''
  eval_ratio: float = EVAL_RATIO
  collection_name: str = ''

  def resolved(self):
    """The musicrnn ConfigDict, overrides applied."""
    config = configs.get_config(self.musicrnn_config or self.name)
    configs.apply_overrides(config, hparams=self.hparams)
    codec = encodings.codec_from_config(config)
    if codec.needs_counts:
      # TFDS fixes a dataset's features and metadata before it reads any
      # music; this codec's vocabulary comes from counting the music first.
      raise UsageError(
          f'config {config.name!r}: the {codec.name} encoding learns its '
          f'{", ".join(codec.learned_settings)} from the training data, which '
          'a TFDS build cannot do; build the dataset with '
          f'musicrnn_create_dataset --config={config.name} (a folder '
          'musicrnn_train reads as it reads a TFDS dataset)')
    return config


def _builder_configs():
  out = []
  for name in configs.names():
    config = configs.get_config(name)
    out.append(MusicrnnConfig(
        name=name,
        description=(f'{config.encoding.name} examples of the musicrnn config '
                     f'{name!r} (features: '
                     f'{", ".join(schema.sequence_features_for(config))})')))
  return out


class Musicrnn(tfds.core.GeneratorBasedBuilder):
  """musicrnn training examples built from a folder of MIDI files."""

  name = 'musicrnn'
  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'First release: the dataset format version 1 of '
               'musicrnn_create_dataset, as TFDS features.',
      '1.1.0': 'music_transformer and dilated_cnn keep whole performances '
               'for random crops (eval in fixed windows); polyphony counts '
               'steps and discards long sequences, as Magenta.',
  }
  BUILDER_CONFIGS = _builder_configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS

  def _info(self):
    builder_config = self.builder_config
    config = builder_config.resolved()
    codec = encodings.codec_from_config(config)
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            f'Music examples for the musicrnn config {config.name!r}: the '
            f'{codec.name} encoding {json.dumps(codec.spec(), sort_keys=True)}, '
            f'built from a folder of music files with the same hash split '
            f'(eval ratio {builder_config.eval_ratio:g}) and train-only '
            'augmentation as musicrnn_create_dataset.'),
        features=features_for(config),
        citation=_CITATION,
        metadata=tfds.core.BeamMetadataDict({
            METADATA_CONFIG_NAME: config.name,
            METADATA_ENCODING: codec.spec(),
            METADATA_SEQUENCE_FEATURES: list(schema.sequence_features_for(config)),
            METADATA_CONFIG: json.loads(configs.to_json(config)),
            METADATA_EVAL_RATIO: builder_config.eval_ratio,
        }),
    )

  def _split_generators(self, dl_manager, pipeline):
    builder_config = self.builder_config
    config = builder_config.resolved()
    read = _read_manual_dir(pipeline, dl_manager.manual_dir,
                            builder_config.collection_name,
                            builder_config.eval_ratio, config.data.split_by)
    examples = read[convert.SEQUENCES] | 'MakeExamples' >> dataset.MakeExamples(
        config, builder_config.eval_ratio, output_fn=to_tfds_example)
    _record_outcome(self.info, read, (examples[beam_utils.COUNTS_TAG],))
    return {split: examples[split] for split in splits.SPLITS}

  def _generate_examples(self):
    raise NotImplementedError('examples come from _split_generators')


def _notesequence_example(sequence):
  return sequence.id, {
      'notesequence': sequence.SerializeToString(),
      'id': sequence.id,
      'filename': sequence.filename,
      'collection': sequence.collection_name,
      'num_notes': len(sequence.notes),
      'total_time': sequence.total_time,
  }


class _SplitNoteSequences(beam.DoFn):

  def __init__(self, eval_ratio):
    self._eval_ratio = eval_ratio
    self._tally = beam_utils.Tally(dataset.NAMESPACE)

  def process(self, sequence):
    split = splits.split_of(sequence, self._eval_ratio)
    yield self._tally(f'notesequences_{split}')
    yield beam.pvalue.TaggedOutput(split, _notesequence_example(sequence))


@dataclasses.dataclass(eq=False)
class NoteSequencesConfig(tfds.core.BuilderConfig):
  """eval_ratio: fraction of NoteSequences (by a hash of their id) in eval;
  collection_name: stored in each NoteSequence (default: manual_dir's name)."""
  eval_ratio: float = EVAL_RATIO
  collection_name: str = ''


class MusicrnnNotesequences(tfds.core.GeneratorBasedBuilder):
  """A folder of music files as a NoteSequence collection."""

  name = 'musicrnn_notesequences'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  BUILDER_CONFIGS = [NoteSequencesConfig(
      name='default', description='Every readable file, one NoteSequence '
      'per MIDI/MusicXML file or ABC tune; byte-identical files once.')]
  MANUAL_DOWNLOAD_INSTRUCTIONS = _MANUAL_DOWNLOAD_INSTRUCTIONS

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'NoteSequence protos (note_seq.NoteSequence, serialized) read from '
            'a folder of MIDI, MusicXML and ABC files by musicrnn_convert\'s '
            'reader, with their id (SHA-256 of the file), filename and '
            'collection; split by the same hash of the id as musicrnn '
            'datasets.'),
        features=tfds.features.FeaturesDict({
            'notesequence': tfds.features.Tensor(
                shape=(), dtype=np.object_,
                doc='serialized note_seq.NoteSequence'),
            'id': tfds.features.Text(doc='SHA-256 of the file (#X per ABC tune)'),
            'filename': tfds.features.Text(doc='path relative to manual_dir'),
            'collection': tfds.features.Text(doc='collection name'),
            'num_notes': tfds.features.Scalar(np.int32),
            'total_time': tfds.features.Scalar(np.float32, doc='seconds'),
        }),
        citation=_CITATION,
        metadata=tfds.core.BeamMetadataDict({
            METADATA_EVAL_RATIO: self.builder_config.eval_ratio}),
    )

  def _split_generators(self, dl_manager, pipeline):
    builder_config = self.builder_config
    read = _read_manual_dir(pipeline, dl_manager.manual_dir,
                            builder_config.collection_name,
                            builder_config.eval_ratio)
    split = read[convert.SEQUENCES] | 'Split' >> beam_utils.ParDoWithOutputs(
        _SplitNoteSequences(builder_config.eval_ratio),
        *splits.SPLITS, beam_utils.COUNTS_TAG)
    _record_outcome(self.info, read, (split[beam_utils.COUNTS_TAG],))
    return {name: split[name] for name in splits.SPLITS}

  def _generate_examples(self):
    raise NotImplementedError('examples come from _split_generators')


@dataclasses.dataclass(eq=False)
class Boulanger2012Config(tfds.core.BuilderConfig):
  """A dataset of the 2012 benchmark.

  Attributes:
    filename: its `.mat` file in manual_dir; names separated by '|' are
      the names it goes by (the first found is read).
    musicrnn_config: the musicrnn config whose frames and data settings the
      examples follow (a config of `key_frames`, MIDI 21-108).
    hparams: Magenta-style overrides of that config.
  """
  filename: str = ''
  musicrnn_config: str = 'tcn'
  hparams: str = ''

  def resolved(self):
    config = configs.get_config(self.musicrnn_config)
    configs.apply_overrides(config, hparams=self.hparams)
    boulanger.check_codec(encodings.codec_from_config(config))
    return config


class MusicrnnBoulanger2012(tfds.core.GeneratorBasedBuilder):
  """The piano rolls of Boulanger-Lewandowski, Bengio and Vincent (2012)."""

  name = 'musicrnn_boulanger2012'
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  # Each with the TCN config of its frames: JSB's are quarter notes,
  # Nottingham's eighths (configs/tcn.py); the other two are taken as
  # quarters (decoding is all the frame length changes).
  BUILDER_CONFIGS = [
      Boulanger2012Config(name=name, filename=filename, musicrnn_config=config,
                          description=f'{title}: the published train, valid '
                          'and test pieces, frames of the 88 keys')
      for name, filename, title, config in (
          ('jsb_chorales', 'JSB_Chorales.mat', 'JSB Chorales', 'tcn'),
          ('nottingham', 'Nottingham.mat', 'Nottingham', 'tcn_nottingham'),
          ('musedata', 'MuseData.mat', 'MuseData', 'tcn'),
          # Bai et al.'s redistribution names it Piano_midi.mat.
          ('piano_midi_de', 'Piano-midi.de.mat|Piano_midi.mat',
           'Piano-midi.de', 'tcn'))]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Put the benchmark\'s .mat files (JSB_Chorales.mat, Nottingham.mat, '
      'MuseData.mat, Piano-midi.de.mat, as published with the 2012 paper) in '
      '`manual_dir` and pass it with `tfds build ... --manual_dir=DIR`.')

  def _info(self):
    config = self.builder_config.resolved()
    codec = encodings.codec_from_config(config)
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Polyphonic music as piano rolls (Boulanger-Lewandowski, Bengio '
            'and Vincent, ICML 2012): one frame of the 88 keys (MIDI 21-108) '
            'per step, the splits as published, pieces kept whole. Examples '
            f'follow the musicrnn config {config.name!r}.'),
        features=features_for(config),
        citation=_CITATION_2012,
        metadata=tfds.core.BeamMetadataDict({
            METADATA_CONFIG_NAME: config.name,
            METADATA_ENCODING: codec.spec(),
            METADATA_SEQUENCE_FEATURES: list(
                schema.sequence_features_for(config)),
            METADATA_CONFIG: json.loads(configs.to_json(config)),
            METADATA_VALIDATION_SPLIT: boulanger.VALID,
        }),
    )

  def _split_generators(self, dl_manager, pipeline):
    config = self.builder_config.resolved()
    names = self.builder_config.filename.split('|')
    found = [os.path.join(os.fspath(dl_manager.manual_dir), name)
             for name in names]
    found = [path for path in found if os.path.exists(path)]
    if not found:
      raise UsageError(f'{" or ".join(names)} is not in '
                       f'{dl_manager.manual_dir}: '
                       f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}')
    path = found[0]
    stem = os.path.splitext(names[0])[0]
    examples = (
        pipeline
        | 'Pieces' >> beam.Create(boulanger.pieces_of(stem,
                                                      boulanger.read_mat(path)),
                                  reshuffle=False)
        | 'MakeExamples' >> beam_utils.ParDoWithOutputs(
            boulanger.RollExamples(configs.to_json(config),
                                   output_fn=to_tfds_example),
            *boulanger.SPLITS, beam_utils.COUNTS_TAG))
    self.info.metadata[METADATA_STATS] = beam_utils.sum_counts(
        (examples[beam_utils.COUNTS_TAG],), 'Stats')
    return {split: examples[split] for split in boulanger.SPLITS}

  def _generate_examples(self):
    raise NotImplementedError('examples come from _split_generators')


_CITATION_2012 = """\
@inproceedings{boulanger2012modeling,
  title = {Modeling Temporal Dependencies in High-Dimensional Sequences:
           Application to Polyphonic Music Generation and Transcription},
  author = {Boulanger-Lewandowski, Nicolas and Bengio, Yoshua and
            Vincent, Pascal},
  booktitle = {ICML},
  year = {2012},
}"""
