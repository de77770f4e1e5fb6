"""Beam pipeline: NoteSequence TFRecords -> SequenceExample train/eval splits.

For every NoteSequence, as Magenta's performance pipeline but on Beam:

  eval split by a hash of the id (or of its folder) ─ sustain-pedal extension
  ─ train only: time stretches ─ chunks (fixed seconds, or at tempo and
  time-signature changes) ─ train only: transpositions (notes pushed out of
  range dropped) ─ encode (the codec quantizes) + control signals ─ drop
  short sequences; split, truncate or discard long ones, or keep them whole
  for random training crops (eval: fixed windows) ─ SequenceExample ─
  shuffled into seeded shards (`shuffle.ShuffleToShards`)

A codec that learns settings from data (`Codec.learned_settings`: the note
tuple's chord vocabulary) gets them first, from a Beam pass of its own that
counts `vocabulary_items` over the train split's augmented chunks
(`learn_encoding`); the examples, dataset.json's encoding and its config
then carry the learned codec.

Outputs in `output_dir`:
  train.tfrecord-SSSSS-of-NNNNN, eval.tfrecord-SSSSS-of-NNNNN (examples in
                a random order fixed by the seed)
  stats.json    a named count for every stage and every reason for a drop
  dataset.json  encoding spec, config, counts per split (written last; the
                trainer reads it)
"""

import dataclasses
import json
import logging
import math
import os
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicrnn import configs
from musicrnn import encodings
from musicrnn import paths
from musicrnn import splits
from musicrnn.encodings import codec as codec_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import progress
from musicrnn.pipelines import shuffle
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import schema

NAMESPACE = 'musicrnn.dataset'
DATASET_JSON = description_lib.DATASET_JSON
STATS_JSON = description_lib.STATS_JSON


def make_codec(config):
  return encodings.codec_from_config(config)


LONG_SEQUENCES = ('split', 'truncate', 'discard', 'crop')
LENGTH_UNITS = ('events', 'steps')


def check_data_config(config, codec):
  """Raises UsageError for data settings no example could be made with."""
  data = config.data
  mode = data.get('long_sequences', 'split')
  if mode not in LONG_SEQUENCES:
    raise UsageError(f'data.long_sequences must be one of {", ".join(LONG_SEQUENCES)}, '
                     f'got {mode!r}')
  unit = data.get('length_unit', 'events')
  if unit not in LENGTH_UNITS:
    raise UsageError(f'data.length_unit must be one of {", ".join(LENGTH_UNITS)}, '
                     f'got {unit!r}')
  if unit == 'steps':
    if not codec.counts_steps:
      raise UsageError(f"data.length_unit='steps' needs a metric encoding; the "
                       f'{codec.name} encoding counts no steps')
    if mode != 'discard':
      raise UsageError("data.length_unit='steps' goes with "
                       f"data.long_sequences='discard' (Magenta's extractor), "
                       f'not {mode!r}')
  if (codec.sequence_feature != schema.TOKENS
      and encodings.controls_from_config(config)):
    raise UsageError(f'control signals are computed from event tokens; the '
                     f'{codec.name} encoding has none')
  if codec.extracts:
    if data.max_events or data.min_events:
      raise UsageError(f'the {codec.name} encoding reads tracks as Magenta '
                       'does: set their length with data.extraction.min_bars '
                       'and max_steps, and data.min_events and '
                       'data.max_events to 0')
    if encodings.controls_from_config(config):
      raise UsageError(f'the {codec.name} encoding takes no control signals')
    if mode == 'crop':
      # Magenta's inputs count from a track's first step (lookback's bar
      # counters, KeyMelody's bar flag): a crop would start them off the bar.
      raise UsageError(f"the {codec.name} encoding trains on whole tracks, as "
                       "Magenta's extractor cuts them: its inputs count "
                       "steps from a track's first bar, which a random crop "
                       "would move; data.long_sequences='crop' is for "
                       'encodings read as one stream')
    try:
      codec.check_extraction(extraction_settings(config))
    except ValueError as e:
      raise UsageError(f'data.extraction: {e}') from e
  if mode == 'crop' and not data.max_events:
    raise UsageError("data.long_sequences='crop' needs data.max_events, the crop "
                     'length')


def extraction_settings(config):
  """The `codec_lib.ExtractionSettings` of `config.data.extraction` (absent:
  the defaults, Magenta's melody extractor's).

  Raises:
    UsageError: an unknown or bad setting.
  """
  section = dict(config.data.get('extraction') or {})
  try:
    return codec_lib.ExtractionSettings(**section)
  except (TypeError, ValueError) as e:
    raise UsageError(f'data.extraction: {e}') from e


@dataclasses.dataclass(frozen=True)
class ExampleMaker:
  """NoteSequence -> SequenceExample features for one config (pure numpy +
  note-seq; the Beam DoFn below and tests call `make_features`)."""
  config_json: str

  def __post_init__(self):
    config = _config_from_json(self.config_json)
    object.__setattr__(self, '_config', config)
    object.__setattr__(self, '_codec', make_codec(config))
    check_data_config(config, self._codec)
    object.__setattr__(self, '_controls_list',
                       encodings.controls_from_config(config))
    object.__setattr__(self, '_extraction', extraction_settings(config))

  @property
  def config(self):
    return self._config

  @property
  def codec(self):
    return self._codec

  def make_features(self, sequence, split, count):
    """Yields each example as the keyword arguments of
    `schema.serialize_sequence_example` (ids, encoding spec, transposition,
    stretch and numpy feature lists); `count(name, n)` records stats."""
    # Why each piece gave no example (codecs that extract tracks): a
    # sequence that gives none is counted with the most common.
    reasons = []
    made = 0
    for chunk, tag, transposition, stretch in self.augmented(sequence, split,
                                                             count):
      for features in self._encode(chunk, split, count, sequence.id, tag,
                                   transposition, stretch, reasons):
        made += 1
        yield features
    if self._codec.extracts and not made:
      reason = max(reasons, key=reasons.count) if reasons else 'no_pieces'
      count(f'sequences_without_examples_{reason}')

  def augmented(self, sequence, split, count):
    """Yields (chunk, tag, transposition, stretch) for each chunk of a
    sequence the config makes examples of: sustain applied, and for the
    train split every time stretch and transposition."""
    data = self._config.data
    if data.sustain:
      sequence = sequences_lib.apply_sustain_control_changes(sequence)
    train = split == 'train'
    stretches = data.stretch_factors if train else (1.0,)
    transpositions = data.transpositions if train else (0,)
    for stretch in stretches:
      stretched = (sequence if stretch == 1.0 else
                   sequences_lib.stretch_note_sequence(sequence, stretch))
      for chunk_index, chunk in enumerate(self._chunks(stretched, count)):
        for transposition in transpositions:
          count(f'{split}_augmented_chunks')
          moved = chunk
          if transposition:
            moved, dropped = sequences_lib.transpose_note_sequence(
                chunk, transposition, in_place=False)
            if dropped:
              count('notes_dropped_by_transposition', dropped)
          yield (moved, f'{chunk_index}:s{stretch:g}:t{transposition:+d}',
                 transposition, stretch)

  def vocabulary_items(self, sequence):
    """What a training sequence adds to the counts of a codec that learns
    its settings (`Codec.vocabulary_items` of every augmented chunk)."""
    for chunk, _, _, _ in self.augmented(sequence, 'train', lambda *_: None):
      yield from self._codec.vocabulary_items(chunk)

  def _chunks(self, sequence, count):
    data = self._config.data
    pieces = [sequence]
    if data.split_on_time_changes:
      pieces = sequences_lib.split_note_sequence_on_time_changes(sequence)
    if data.chunk_seconds:
      pieces = [c for p in pieces
                for c in sequences_lib.split_note_sequence(p, data.chunk_seconds)]
    count('chunks', len(pieces))
    return pieces

  def _length(self, tokens):
    """A sequence's length in the config's unit: events, or metric steps."""
    if self._config.data.get('length_unit', 'events') == 'steps':
      return self._codec.num_steps(tokens)
    return len(tokens)

  def cut(self, features, split, count):
    """(pieces, too_short) of one encoded sequence, per data.long_sequences:
    'split' into max_events windows, 'truncate' to max_events, 'discard' it
    whole, or 'crop': kept whole for training (the reader crops it at random
    each pass) and split into fixed windows for evaluation."""
    data = self._config.data
    main = self._codec.sequence_feature
    tokens = features[main]
    length = self._length(tokens)
    mode = data.long_sequences
    starts = [0]
    size = len(tokens)
    if data.max_events and length > data.max_events:
      if mode == 'discard':
        count('dropped_too_long')
        return [], []
      if mode == 'truncate':
        count('long_sequences_truncated')
        size = data.max_events
      elif mode == 'crop' and split == 'train':
        count('long_sequences_kept_for_crops')
      else:  # 'split', or the fixed eval windows of 'crop'
        count('long_sequences_split')
        size = data.max_events
        starts = list(range(0, len(tokens), size))
    pieces = [{k: v[start:start + size] for k, v in features.items()}
              for start in starts]
    too_short = [self._length(p[main]) < data.min_events for p in pieces]
    return pieces, too_short

  def _extracted(self, extraction, count, reasons):
    """(pieces, transpositions) of a codec's `Extraction` of one chunk; each
    track it left out counted as `tracks_dropped_{reason}`, each window left
    out as a repeat as `windows_duplicate`, and a chunk
    that gave nothing as `no_examples_{reason}` (the reason also appended
    to `reasons`)."""
    for reason in extraction.dropped:
      count(f'tracks_dropped_{reason}')
    if extraction.truncated:
      count('tracks_truncated', extraction.truncated)
    if extraction.duplicates:
      count('windows_duplicate', extraction.duplicates)
    if extraction.examples:
      count('chunks_with_examples')
    else:
      reasons.append(extraction.nothing_reason())
      count(f'no_examples_{reasons[-1]}')
    pieces = [features for features, _ in extraction.examples]
    return pieces, [amount for _, amount in extraction.examples]

  def _encode(self, chunk, split, count, source_id, tag, transposition, stretch,
              reasons):
    codec = self._codec
    try:
      encoded = (codec.extract(chunk, self._extraction) if codec.extracts
                 else codec.encode(chunk))
    except codec_lib.EncodingError as e:
      count(f'encode_failed_{e.reason}')
      reasons.append(e.reason)
      return
    count('chunks_encoded')
    moved = None
    if codec.extracts:
      # One example per track (Magenta's extractors); its length was set
      # by the extraction (min_bars, max_steps).
      pieces, moved = self._extracted(encoded, count, reasons)
      too_short = [False] * len(pieces)
    elif codec.segmented:
      # One example per segment; its length is its number of steps.
      pieces = [{codec.sequence_feature: segment} for segment in encoded]
      too_short = [False] * len(pieces)
    else:
      features = {codec.sequence_feature: encoded}
      for name, control in self._controls_list:
        features[name] = control.compute(encoded, codec)
      pieces, too_short = self.cut(features, split, count)
    count('pieces', len(pieces))
    for index, (piece, short) in enumerate(zip(pieces, too_short)):
      if short:
        count('dropped_too_short')
        continue
      count(f'examples_{split}')
      count(f'events_{split}', len(next(iter(piece.values()))))
      yield dict(source_id=source_id, example_id=f'{source_id}:{tag}:p{index}',
                 encoding_spec=codec.spec(),
                 transposition=transposition + (moved[index] if moved else 0),
                 stretch=stretch, **piece)


def _config_from_json(text):
  import ml_collections  # pylint: disable=import-outside-toplevel
  return ml_collections.ConfigDict(json.loads(text))


def serialize(features):
  """An example of `ExampleMaker.make_features` as a serialized SequenceExample."""
  return schema.serialize_sequence_example(**features)


def keyed_serialize(features):
  """(example id, serialized SequenceExample): what `shuffle.ShuffleToShards`
  takes."""
  return features['example_id'], schema.serialize_sequence_example(**features)


# Auto shard count: shards of about this many bytes (a shard is what one
# worker holds while shuffling it), at most MAX_SHARDS per split (the files
# a worker keeps open while spreading examples).
SHARD_BYTES = 64 << 20
MAX_SHARDS = 256


def estimated_bytes(config, input_bytes, share, augmented):
  """About how many bytes of examples a split of `input_bytes` of
  NoteSequences gives: a serialized event costs about as much as the note
  proto it comes from, plus what each control signal adds
  (`controls.Feature.bytes_factor`)."""
  factor = 1.0 + sum(control.feature.bytes_factor for _, control in
                     encodings.controls_from_config(config))
  copies = 1
  if augmented:
    copies = len(config.data.stretch_factors) * len(config.data.transpositions)
  return input_bytes * share * copies * factor


def auto_num_shards(config, input_bytes, eval_ratio):
  """{split: shard count} for about SHARD_BYTES per shard."""
  shares = {'train': (1.0 - eval_ratio, True), 'eval': (eval_ratio, False)}
  return {split: int(min(MAX_SHARDS, max(1, math.ceil(
      estimated_bytes(config, input_bytes, share, augmented) / SHARD_BYTES))))
          for split, (share, augmented) in shares.items()}


class _MakeExamples(beam.DoFn):
  """(split, NoteSequence) -> examples tagged with their split, counting
  stages; `output_fn` turns each `make_features` dict into the output."""

  def __init__(self, config_json, output_fn, progress_dir):
    self._config_json = config_json
    self._output_fn = output_fn
    self._progress_dir = progress_dir
    self._tally = beam_utils.Tally(NAMESPACE)

  def setup(self):
    self._maker = ExampleMaker(self._config_json)
    self._progress = progress.Counter(self._progress_dir, 'dataset',
                                      'NoteSequences')

  def process(self, element):
    split, sequence = element
    counts = []

    def count(name, n=1):
      counts.append(self._tally(name, n))

    try:
      for features in self._maker.make_features(sequence, split, count):
        yield beam.pvalue.TaggedOutput(split, self._output_fn(features))
    except Exception as e:  # pylint: disable=broad-except
      # A malformed NoteSequence must not stop a long batch job: count it
      # under its exception type and go on.
      logging.warning('musicrnn dataset: %s failed: %s: %s', sequence.id,
                      type(e).__name__, e)
      count(f'sequences_failed_{type(e).__name__}')
      self._progress.add(failed=1)
    else:
      count('sequences_done')
      self._progress.add()
    yield from counts

  def finish_bundle(self):
    self._progress.flush()


class _VocabularyItems(beam.DoFn):
  """(split, NoteSequence) -> the items a training sequence adds to the
  counts of a codec that learns its settings (eval sequences add none)."""

  def __init__(self, config_json, progress_dir):
    self._config_json = config_json
    self._progress_dir = progress_dir

  def setup(self):
    self._maker = ExampleMaker(self._config_json)
    self._progress = progress.Counter(self._progress_dir, 'vocabulary',
                                      'NoteSequences')

  def process(self, element):
    split, sequence = element
    try:
      if split == 'train':
        yield from self._maker.vocabulary_items(sequence)
    except Exception:  # pylint: disable=broad-except
      # The examples pass counts and logs this sequence's failure.
      pass
    self._progress.add()

  def finish_bundle(self):
    self._progress.flush()


def learn_encoding(config, inputs, eval_ratio, pipeline_options, path,
                   total=None):
  """`config` with the settings its codec learns from data (a chord
  vocabulary) counted over the train split, augmentations included, in a
  Beam pass of its own; the counts are written to `path` (JSON). `total`:
  the NoteSequences in `inputs`, for the progress line.

  Raises:
    UsageError: the train split has nothing to count.
  """
  codec = make_codec(config)
  logging.info('musicrnn dataset: counting the %s encoding\'s %s over the '
               'train split', codec.name, ', '.join(codec.learned_settings))
  reporter = progress.Reporter('vocabulary', 'NoteSequences', total=total,
                               enabled=beam_utils.is_local(pipeline_options))
  with reporter, beam_utils.make_pipeline(pipeline_options) as p:
    assigned = (p
                | 'InputFiles' >> beam.Create(inputs)
                | 'ReadNoteSequences' >> beam.io.ReadAllFromTFRecord(
                    coder=beam.coders.ProtoCoder(music_pb2.NoteSequence))
                | 'Spread' >> beam.Reshuffle()
                | 'AssignSplit' >> beam_utils.ParDoWithOutputs(
                    _AssignSplit(eval_ratio, config.data.split_by),
                    beam_utils.COUNTS_TAG, main='sequences'))
    _ = (assigned['sequences']
         | 'Items' >> beam.ParDo(_VocabularyItems(configs.to_json(config),
                                                  reporter.folder))
         | 'Count' >> beam.combiners.Count.PerElement()
         | 'Json' >> beam.Map(json.dumps)
         | 'Write' >> beam_utils.WriteLines(path))
  pairs = [json.loads(line) for line in beam_utils.read_text(path).splitlines()]
  counts = {_hashable(item): n for item, n in pairs}
  if not counts:
    raise UsageError(
        f'the train split has nothing for the {codec.name} encoding to learn '
        f'its {", ".join(codec.learned_settings)} from: give more input or a '
        'smaller --eval_ratio')
  learned = codec.with_counts(counts)
  logging.info('musicrnn dataset: %s encoding: %s', codec.name,
               learned.describe_learned(counts))
  return encodings.with_learned_settings(config, learned.spec())


def _hashable(item):
  """A JSON value read back as the hashable item it was (lists -> tuples)."""
  return tuple(_hashable(i) for i in item) if isinstance(item, list) else item


class _AssignSplit(beam.DoFn):

  def __init__(self, eval_ratio, split_by):
    self._eval_ratio = eval_ratio
    self._split_by = split_by
    self._tally = beam_utils.Tally(NAMESPACE)

  def process(self, sequence):
    split = splits.split_of(sequence, self._eval_ratio, self._split_by)
    yield self._tally('notesequences_read')
    yield self._tally(f'notesequences_{split}')
    yield split, sequence


class MakeExamples(beam.PTransform):
  """NoteSequences -> examples of one config, split into train and eval.

  The same hash split, augmentation and encoding for musicrnn_create_dataset
  and the TFDS builders. Returns a dict of PCollections: 'train' and 'eval'
  (each example as `output_fn(ExampleMaker.make_features(...))`) and
  beam_utils.COUNTS_TAG ((name, n) pairs; `check_stats` checks their sums).
  `progress_dir`: a `progress.Reporter`'s folder (None: each worker logs its
  own progress).
  """

  def __init__(self, config, eval_ratio, output_fn=serialize, progress_dir=None):
    super().__init__()
    self._config_json = configs.to_json(config)
    self._split_by = config.data.split_by
    self._eval_ratio = eval_ratio
    self._output_fn = output_fn
    self._progress_dir = progress_dir

  def expand(self, sequences):
    assigned = (
        sequences
        | 'AssignSplit' >> beam_utils.ParDoWithOutputs(
            _AssignSplit(self._eval_ratio, self._split_by),
            beam_utils.COUNTS_TAG, main='sequences'))
    examples = (
        assigned['sequences']
        | 'MakeExamples' >> beam_utils.ParDoWithOutputs(
            _MakeExamples(self._config_json, self._output_fn,
                          self._progress_dir),
            *splits.SPLITS, beam_utils.COUNTS_TAG))
    outputs = {split: examples[split] for split in splits.SPLITS}
    outputs[beam_utils.COUNTS_TAG] = (
        (assigned[beam_utils.COUNTS_TAG], examples[beam_utils.COUNTS_TAG])
        | 'FlattenCounts' >> beam.Flatten())
    return outputs


@dataclasses.dataclass
class DatasetSummary:
  """What a dataset build did; `stats` holds every named count."""
  output_dir: str
  config_name: str
  examples: dict
  events: dict
  notesequences: dict
  stats: dict
  seconds: float
  step_name: str = 'events'   # what `events` counts (the codec's step_name)
  source_name: str = 'NoteSequences'   # what `notesequences` counts

  def line(self):
    read = sum(self.notesequences.values())
    sources = ', '.join(f'{s} {n}' for s, n in self.notesequences.items())
    made = ', '.join(f'{s} {self.examples[s]} examples / {self.events[s]} '
                     f'{self.step_name}' for s in self.examples)
    return (f'{read} {self.source_name} ({sources}) -> {made}; '
            f'{self.seconds:.1f} s')

  def without_examples(self):
    """{reason: sequences} of the sources that gave no example (codecs that
    extract tracks count each by its most common reason)."""
    prefix = 'sequences_without_examples_'
    return {k[len(prefix):]: v for k, v in sorted(self.stats.items())
            if k.startswith(prefix) and v}

  def why_line(self):
    """One line on the sources that gave no example and why, or ''."""
    reasons = self.without_examples()
    if not reasons:
      return ''
    read = sum(self.notesequences.values())
    why = ', '.join(f'{reason.replace("_", " ")} {n}'
                    for reason, n in sorted(reasons.items(),
                                            key=lambda item: -item[1]))
    return (f'{sum(reasons.values())} of {read} {self.source_name} gave no '
            f'example: {why} (every count in stats.json)')


def check_stats(stats):
  """Raises RuntimeError when the stage counts do not add up."""
  read = stats.get('notesequences_read', 0)
  problems = []
  if read != stats.get('notesequences_train', 0) + stats.get('notesequences_eval', 0):
    problems.append('notesequences_read != train + eval')
  failed = sum(v for k, v in stats.items() if k.startswith('sequences_failed_'))
  if read != stats.get('sequences_done', 0) + failed:
    problems.append('notesequences_read != sequences_done + sequences_failed_*')
  augmented = (stats.get('train_augmented_chunks', 0)
               + stats.get('eval_augmented_chunks', 0))
  encode_failed = sum(v for k, v in stats.items() if k.startswith('encode_failed_'))
  if augmented != stats.get('chunks_encoded', 0) + encode_failed:
    problems.append('augmented chunks != chunks_encoded + encode_failed_*')
  examples = stats.get('examples_train', 0) + stats.get('examples_eval', 0)
  no_examples = sum(v for k, v in stats.items() if k.startswith('no_examples_'))
  if (no_examples or 'chunks_with_examples' in stats) and (
      stats.get('chunks_encoded', 0)
      != stats.get('chunks_with_examples', 0) + no_examples):
    problems.append('chunks_encoded != chunks_with_examples + no_examples_*')
  if stats.get('pieces', 0) != examples + stats.get('dropped_too_short', 0):
    problems.append('pieces != examples + dropped_too_short')
  if problems:
    raise RuntimeError(f'dataset stats do not add up ({"; ".join(problems)}): {stats}')


def create_dataset(config, input_pattern, output_dir, *, eval_ratio=0.1,
                   num_shards=0, seed=0, overwrite=False, pipeline_options=None):
  """Builds train/eval SequenceExample TFRecords from NoteSequence TFRecords.

  Args:
    config: a config from `musicrnn.configs.get_config` (overrides applied).
    input_pattern: glob of NoteSequence TFRecord files (musicrnn_convert's).
    output_dir: folder for the shards, stats.json and dataset.json.
    eval_ratio: fraction of sources (by id hash) in the eval split, in [0,
      1]; 1 puts every source in eval (a held-out set, e.g. an official
      validation split, that runs score with --eval_data).
    num_shards: shards per split (0: about one per 64 MiB of examples,
      estimated from the input's size, at most 256).
    seed: the examples' random order in the shards (the same seed and
      input give the same files).
    overwrite: replace an existing dataset in `output_dir`.
    pipeline_options: Beam PipelineOptions (default: local runner).

  Returns:
    DatasetSummary.
  """
  if not 0.0 <= eval_ratio <= 1.0:
    raise UsageError(f'--eval_ratio must be in [0, 1], got {eval_ratio}')
  input_pattern = paths.absolute(input_pattern)
  inputs = convert.notesequence_files(input_pattern)
  check_data_config(config, make_codec(config))  # fail early on bad settings
  if '://' not in output_dir:
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
  staged = beam_utils.StagedOutputs(
      output_dir, 'dataset', overwrite,
      marker=beam_utils.join(output_dir, DATASET_JSON))
  patterns = [beam_utils.join(output_dir, name) for name in
              [f'{s}.tfrecord*' for s in splits.SPLITS] + [DATASET_JSON, STATS_JSON]]
  staged.refuse_existing(patterns)
  if pipeline_options is None:
    pipeline_options = beam_utils.make_pipeline_options([])
  config_json = configs.to_json(config)
  logging.info('musicrnn dataset: config %s, %d input files, eval ratio %g',
               config.name, len(inputs), eval_ratio)
  start = time.time()
  if num_shards:
    shards = {split: num_shards for split in splits.SPLITS}
  else:
    input_bytes = sum(m.size_in_bytes for path in inputs
                      for m in FileSystems.match([path])[0].metadata_list)
    shards = auto_num_shards(config, input_bytes, eval_ratio)
  total = sum(beam_utils.count_records(path) for path in inputs)
  reporter = progress.Reporter('dataset', 'NoteSequences', total=total,
                               enabled=beam_utils.is_local(pipeline_options))
  try:
    if make_codec(config).needs_counts:
      config = learn_encoding(config, inputs, eval_ratio, pipeline_options,
                              staged.path('vocabulary.json'), total)
      config_json = configs.to_json(config)
    with reporter, beam_utils.make_pipeline(pipeline_options) as p:
      examples = (
          p
          | 'InputFiles' >> beam.Create(inputs)
          | 'ReadNoteSequences' >> beam.io.ReadAllFromTFRecord(
              coder=beam.coders.ProtoCoder(music_pb2.NoteSequence))
          | 'Spread' >> beam.Reshuffle()
          | 'MakeExamples' >> MakeExamples(config, eval_ratio,
                                           output_fn=keyed_serialize,
                                           progress_dir=reporter.folder))
      # Every split is shuffled into its shards (in bounded memory): the
      # examples of one source, made one after another, end up spread over
      # the whole split, so every training batch mixes sources.
      written = [examples[split]
                 | f'Shuffle{split}' >> shuffle.ShuffleToShards(
                     staged.dir, f'{split}.shuffled', shards[split], seed=seed)
                 for split in splits.SPLITS]
      beam_utils.end(*written, beam_utils.total_counts(
          (examples[beam_utils.COUNTS_TAG],), staged.path('counts.json')))

    stats = beam_utils.read_counts(staged.path('counts.json'))
    check_stats(stats)
    summary = publish(staged, output_dir, config, splits.SPLITS, stats,
                      time.time() - start, patterns, eval_ratio=eval_ratio,
                      input=input_pattern, shuffle_seed=seed)
  finally:
    staged.cleanup()
  logging.info('musicrnn dataset: %s', summary.line())
  why = summary.why_line()
  if why and not sum(summary.examples.values()):
    logging.warning('musicrnn dataset: no example at all. %s', why)
  elif why:
    logging.info('musicrnn dataset: %s', why)
  return summary


def publish(staged, output_dir, config, split_names, stats, seconds, patterns,
            **fields):
  """Ends a dataset build: each split's non-empty shards (staged as
  `{split}.shuffled-*`) named in order as one shard set, stats.json, and
  dataset.json written last (its presence means the dataset is complete);
  returns the build's DatasetSummary.

  Args:
    staged: the build's `beam_utils.StagedOutputs`.
    split_names: the splits, e.g. splits.SPLITS.
    stats: every named count (`examples_{split}`, `events_{split}`,
      `notesequences_{split}` per split).
    patterns: the dataset's files, for `StagedOutputs.publish`.
    **fields: more of dataset.json's fields (input, eval_ratio, ...).
  """
  codec = make_codec(config)
  summary = DatasetSummary(
      output_dir=output_dir, config_name=config.name,
      examples={s: stats.get(f'examples_{s}', 0) for s in split_names},
      events={s: stats.get(f'events_{s}', 0) for s in split_names},
      notesequences={s: stats.get(f'notesequences_{s}', 0)
                     for s in split_names},
      stats=stats, seconds=round(seconds, 2), step_name=codec.step_name)
  moves = []
  files = {}
  for split in split_names:
    written = beam_utils.matching(staged.path(f'{split}.shuffled-*'))
    files[split] = []
    for index, shard in enumerate(written):
      name = f'{split}.tfrecord-{index:05d}-of-{len(written):05d}'
      moves.append((shard, beam_utils.join(output_dir, name)))
      files[split].append(name)
  with FileSystems.create(staged.path(STATS_JSON)) as f:
    f.write(json.dumps(stats, indent=2, sort_keys=True).encode('utf-8'))
  moves.append((staged.path(STATS_JSON), beam_utils.join(output_dir, STATS_JSON)))
  description = {
      'format_version': description_lib.FORMAT_VERSION,
      'config_name': config.name,
      'encoding': codec.spec(),
      'sequence_features': list(schema.sequence_features_for(config)),
      'config': json.loads(configs.to_json(config)),
      # Examples are in a random order across each split's shards.
      'order': 'shuffled',
      'splits': {s: {'files': files[s], 'examples': summary.examples[s],
                     'events': summary.events[s],
                     'notesequences': summary.notesequences[s]}
                 for s in split_names},
      **fields,
  }
  with FileSystems.create(staged.path(DATASET_JSON)) as f:
    f.write(json.dumps(description, indent=2, sort_keys=True).encode('utf-8'))
  staged.publish(moves, (staged.path(DATASET_JSON),
                         beam_utils.join(output_dir, DATASET_JSON)), patterns)
  return summary
