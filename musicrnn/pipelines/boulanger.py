"""The polyphonic-music benchmark of Boulanger-Lewandowski, Bengio and
Vincent (ICML 2012): its piano rolls as published, and its unit.

  splits = boulanger.read_mat('JSB_Chorales.mat')
  # {'train': [uint8 [frames, 88], ...], 'valid': [...], 'test': [...]}
  boulanger.frame_nll(probabilities, splits['test'])   # nats per frame
  boulanger.create_dataset(config, 'JSB_Chorales.mat', '/tmp/jsb')

`create_dataset` (what `musicrnn_create_dataset --input=FILE.mat` runs)
writes a musicrnn dataset with the three published splits, train, valid
and test, each piece one example of the config's encoding of its frames
(`key_frames`, or `frame_events`: a token per sounding key). Valid and test pieces are kept whole
and unchanged; the config's transpositions and cuts apply to train only.

The four datasets of the paper (JSB Chorales, Nottingham, MuseData,
Piano-midi.de) are MATLAB files holding `traindata`, `validdata` and
`testdata`: one array per piece, frames x 88 keys (MIDI 21-108), 0/1. They
are read exactly as published: no resampling, no transposition, the
paper's splits.

The unit of the published tables: the Bernoulli NLL summed over the 88
keys, summed over every predicted frame of every piece of a split, divided
by the number of predicted frames (frame-weighted). A sequence model does
not predict the first frame of a piece (it has no past); the paper's "Note
1-Gram" row predicts every frame (11.06 on JSB test, 10.25 on Nottingham;
without the first frames they would be 11.09 and 10.26). A mean of
per-piece means is a different number.
"""

import logging
import os
import time

import apache_beam as beam
import numpy as np

from musicrnn import configs
from musicrnn import paths
from musicrnn.encodings import frames
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import dataset
from musicrnn.pipelines import progress
from musicrnn.pipelines import shuffle

KEYS = 88
# MIDI pitch of the first key (A0); the last is 108 (C8).
MIN_PITCH = 21
# The published splits, by the name the paper's files give them.
SPLITS = {'train': 'traindata', 'valid': 'validdata', 'test': 'testdata'}
# The split a trainer validates on.
VALID = 'valid'


def read_mat(path):
  """{'train', 'valid', 'test': [uint8 [frames, 88] per piece]} of a
  benchmark `.mat` file.

  Raises:
    UsageError: not a MATLAB file, a split missing, or a piece that is not
      0/1 frames of 88 keys.
  """
  import scipy.io  # pylint: disable=import-outside-toplevel
  try:
    contents = scipy.io.loadmat(path)
  except (OSError, ValueError, TypeError, scipy.io.matlab.MatReadError) as e:
    raise UsageError(f'{path} is not a MATLAB .mat file of the 2012 '
                     f'polyphonic benchmark: {e}') from e
  missing = [name for name in SPLITS.values() if name not in contents]
  if missing:
    raise UsageError(f'{path} has no {", ".join(missing)} (a benchmark file '
                     f'holds {", ".join(SPLITS.values())})')
  splits = {}
  for split, name in SPLITS.items():
    pieces = []
    for i, piece in enumerate(np.ravel(contents[name])):
      piece = np.asarray(piece)
      if piece.ndim != 2 or piece.shape[1] != KEYS or not np.isin(
          piece, (0, 1)).all():
        raise UsageError(f'{path}: piece {i} of {name} is not 0/1 frames of '
                         f'{KEYS} keys (shape {piece.shape})')
      pieces.append(piece.astype(np.uint8))
    splits[split] = pieces
  return splits


def frame_nll(probabilities, rolls, epsilon=1e-7):
  """NLL in nats per predicted frame, the unit of the published tables.

  Args:
    probabilities: per piece, float [predicted frames, 88]: the probability
      of each key sounding in each frame the model predicts, the last ones
      of the piece: all of its frames, or all but the first (a sequence
      model, which predicts a frame from the frames before).
    rolls: per piece, 0/1 [frames, 88].
    epsilon: probabilities are clipped to [epsilon, 1 - epsilon].

  Returns:
    The summed Bernoulli NLL over keys and predicted frames of every piece,
    divided by the number of predicted frames.
  """
  total, frames = 0.0, 0
  for p, roll in zip(probabilities, rolls, strict=True):
    p = np.clip(np.asarray(p, np.float64), epsilon, 1 - epsilon)
    roll = np.asarray(roll, np.float64)
    if p.shape[1:] != roll.shape[1:] or len(p) not in (len(roll), len(roll) - 1):
      raise ValueError(f'probabilities {p.shape} do not cover the frames '
                       f'{roll.shape} of a piece, or all but its first')
    roll = roll[len(roll) - len(p):]
    total -= float(np.sum(roll * np.log(p) + (1 - roll) * np.log1p(-p)))
    frames += len(roll)
  return total / max(frames, 1)


def key_frequencies(rolls):
  """float [88]: how often each key sounds in the frames of `rolls` (the
  "Note 1-Gram" model of the 2012 table predicts these everywhere)."""
  return np.concatenate(rolls).mean(axis=0)


def is_benchmark_file(pattern):
  """Whether an --input names a benchmark `.mat` file (not NoteSequences)."""
  return pattern.lower().endswith('.mat')


def check_codec(codec):
  """Raises UsageError unless `codec` encodes the benchmark's frames, one
  sounding bit for each key of MIDI 21-108 (`frames.KeyFramesEncoding`:
  `key_frames`, `frame_events`)."""
  if not (isinstance(codec, frames.KeyFramesEncoding)
          and (codec.settings.min_pitch, codec.settings.num_keys)
          == (MIN_PITCH, KEYS)):
    raise UsageError(
        f'the 2012 benchmark\'s frames are one bit for each of the {KEYS} keys '
        f'of MIDI {MIN_PITCH}-{MIN_PITCH + KEYS - 1}, which the {codec.name} '
        'encoding of this config does not encode: use a config of '
        'key_frames or frame_events with that range (tcn, frames_lstm, '
        'rnn-nade, rnn-nade_attn, frame_events_lstm)')


def transposed(roll, semitones):
  """(roll moved up `semitones` keys, sounding bits pushed off the keyboard)."""
  if not semitones:
    return roll, 0
  moved = np.zeros_like(roll)
  if semitones > 0:
    moved[:, semitones:] = roll[:, :-semitones]
    lost = int(roll[:, -semitones:].sum())
  else:
    moved[:, :semitones] = roll[:, -semitones:]
    lost = int(roll[:, :-semitones].sum())
  return moved, lost


class RollExamples(beam.DoFn):
  """(split, piece id, roll) -> the piece's examples tagged with their split,
  each as `output_fn(examples_of_piece(...))`, counting stages as
  `dataset.MakeExamples` does; `progress_dir` as there."""

  def __init__(self, config_json, output_fn=dataset.keyed_serialize,
               progress_dir=None):
    self._config_json = config_json
    self._output_fn = output_fn
    self._progress_dir = progress_dir
    self._tally = beam_utils.Tally(dataset.NAMESPACE)

  def setup(self):
    self._maker = dataset.ExampleMaker(self._config_json)
    self._progress = progress.Counter(self._progress_dir, 'dataset', 'pieces')

  def process(self, element):
    split, piece_id, roll = element
    counts = [self._tally('pieces_read'), self._tally(f'pieces_{split}')]

    def count(name, n=1):
      counts.append(self._tally(name, n))

    for example in examples_of_piece(self._maker, split, piece_id, roll, count):
      yield beam.pvalue.TaggedOutput(split, self._output_fn(example))
    self._progress.add()
    yield from counts

  def finish_bundle(self):
    self._progress.flush()


def examples_of_piece(maker, split, piece_id, roll, count):
  """Yields the examples (`schema.serialize_sequence_example` arguments) of
  one piece: a valid or test piece whole, a train piece in each of the
  config's transpositions, cut as the config says (`ExampleMaker.cut`)."""
  data = maker.config.data
  codec = maker.codec
  train = split == 'train'
  for semitones in data.transpositions if train else (0,):
    moved, lost = transposed(roll, semitones)
    if lost:
      count('bits_dropped_by_transposition', lost)
    features = {codec.sequence_feature: codec.encode_key_frames(moved)}
    if train:
      pieces, too_short = maker.cut(features, split, count)
    else:
      pieces, too_short = [features], [len(moved) < 2]
    for index, (piece, short) in enumerate(zip(pieces, too_short)):
      if short:
        count(f'dropped_too_short_{split}')
        continue
      count(f'examples_{split}')
      count(f'events_{split}', len(piece[codec.sequence_feature]))
      if not train:
        count(f'frames_{split}', len(moved))
      yield dict(source_id=piece_id,
                 example_id=f'{piece_id}:t{semitones:+d}:p{index}',
                 encoding_spec=codec.spec(), transposition=semitones,
                 stretch=1.0, **piece)


def pieces_of(stem, rolls):
  """[(split, piece id, roll)] of a file's `read_mat` splits; a piece's id
  is `{stem}/{split}/{index:04d}` (its place in the published file)."""
  return [(split, f'{stem}/{split}/{i:04d}', roll)
          for split, pieces in rolls.items() for i, roll in enumerate(pieces)]


def create_dataset(config, mat_path, output_dir, *, num_shards=0, seed=0,
                   overwrite=False, pipeline_options=None):
  """Builds a musicrnn dataset of the benchmark's three splits from its
  `.mat` file (see the module docstring), on Beam.

  Args:
    config: a config whose encoding is `key_frames` of MIDI 21-108.
    mat_path: the benchmark file (JSB_Chorales.mat, Nottingham.mat,
      MuseData.mat, Piano-midi.de.mat).
    output_dir, num_shards, seed, overwrite, pipeline_options: as
      `dataset.create_dataset`'s (num_shards 0: one shard per split).

  Returns:
    dataset.DatasetSummary (its `notesequences` count pieces).

  Raises:
    UsageError: a config of other frames, a file that is not a benchmark
      file.
  """
  check_codec(dataset.make_codec(config))
  dataset.check_data_config(config, dataset.make_codec(config))
  mat_path = paths.absolute(mat_path)
  rolls = read_mat(mat_path)
  if '://' not in output_dir:
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
  staged = beam_utils.StagedOutputs(
      output_dir, 'dataset', overwrite,
      marker=beam_utils.join(output_dir, dataset.DATASET_JSON))
  patterns = [beam_utils.join(output_dir, name) for name in
              [f'{s}.tfrecord*' for s in SPLITS]
              + [dataset.DATASET_JSON, dataset.STATS_JSON]]
  staged.refuse_existing(patterns)
  if pipeline_options is None:
    pipeline_options = beam_utils.make_pipeline_options([])
  stem = os.path.splitext(os.path.basename(mat_path))[0]
  elements = pieces_of(stem, rolls)
  logging.info('musicrnn dataset: config %s, %s: %s', config.name, mat_path,
               ', '.join(f'{s} {len(p)} pieces' for s, p in rolls.items()))
  start = time.time()
  reporter = progress.Reporter('dataset', 'pieces', total=len(elements),
                               enabled=beam_utils.is_local(pipeline_options))
  try:
    with reporter, beam_utils.make_pipeline(pipeline_options) as p:
      examples = (
          p
          | 'Pieces' >> beam.Create(elements, reshuffle=False)
          | 'Spread' >> beam.Reshuffle()
          | 'MakeExamples' >> beam_utils.ParDoWithOutputs(
              RollExamples(configs.to_json(config),
                           progress_dir=reporter.folder),
              *SPLITS, beam_utils.COUNTS_TAG))
      written = [examples[split]
                 | f'Shuffle{split}' >> shuffle.ShuffleToShards(
                     staged.dir, f'{split}.shuffled', num_shards or 1,
                     seed=seed)
                 for split in SPLITS]
      beam_utils.end(*written, beam_utils.total_counts(
          (examples[beam_utils.COUNTS_TAG],), staged.path('counts.json')))
    stats = beam_utils.read_counts(staged.path('counts.json'))
    check_stats(stats, rolls)
    short = stats.get('dropped_too_short_train', 0)
    if short:
      logging.warning(
          'musicrnn dataset: %d train pieces (or windows) of %s are shorter '
          'than the config\'s data.min_events=%d and were left out; keep them '
          'with --hparams=min_events=2', short, os.path.basename(mat_path),
          config.data.min_events)
    for split in SPLITS:
      stats[f'notesequences_{split}'] = stats.get(f'pieces_{split}', 0)
    summary = dataset.publish(
        staged, output_dir, config, tuple(SPLITS), stats, time.time() - start,
        patterns, input=mat_path, splits_from='published',
        validation_split=VALID, shuffle_seed=seed)
    summary.source_name = 'pieces'
  finally:
    staged.cleanup()
  logging.info('musicrnn dataset: %s', summary.line())
  return summary


def check_stats(stats, rolls):
  """Raises RuntimeError unless every piece was read and every valid and
  test piece made exactly one example of all its frames."""
  problems = []
  for split, pieces in rolls.items():
    if stats.get(f'pieces_{split}', 0) != len(pieces):
      problems.append(f'{split}: {stats.get(f"pieces_{split}", 0)} of '
                      f'{len(pieces)} pieces read')
    if split != 'train':
      whole = sum(len(p) for p in pieces if len(p) >= 2)
      if stats.get(f'frames_{split}', 0) != whole:
        problems.append(f'{split}: {stats.get(f"frames_{split}", 0)} of '
                        f'{whole} frames written')
  if problems:
    raise RuntimeError(f'benchmark dataset counts do not add up '
                       f'({"; ".join(problems)}): {stats}')
