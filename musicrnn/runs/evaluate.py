"""A trained run scored: on a dataset split, by its task's evaluation (NLL
for autoregressive models, the GAN's metrics for the GAN, loss and onset F1
for frame models); its generated MIDI against the real music of its data.

  metrics = evaluate.evaluate_run('/tmp/perf_run')
  report = evaluate.evaluate_samples('/tmp/samples', run_dir='/tmp/perf_run')
"""

import json
import logging
import os

from note_seq import sequences_lib
import numpy as np

from musicrnn import encodings
from musicrnn.encodings import frames
from musicrnn.errors import UsageError
from musicrnn.metrics import music
from musicrnn.metrics import samples
from musicrnn.pipelines import boulanger
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import sources


def evaluate_run(run_dir, data=None, *, split=None, batch_size=None,
                 max_batches=None, tfds_data_dir=None, best=False):
  """The metrics of a run's latest checkpoint on a split (NLL, perplexity
  and accuracy for an autoregressive model), also logged as one line.

  Args:
    run_dir: a run directory of musicrnn_train.
    data: the data to score, in any form `sources.open_source` takes
      (default: what the run was trained on).
    split: a split of the data: 'eval' or 'train'; 'train', 'valid' or
      'test' of a benchmark's published splits; default the one it
      validates on ('eval', 'valid').
    batch_size: default the config's.
    max_batches: cap on batches (default: the whole split).
    tfds_data_dir: where tfds:NAME datasets live (default: TFDS's).
    best: score the model of the run's best evaluation (run_dir/best), not
      its latest checkpoint.

  Returns:
    dict with nll, perplexity, accuracy, events, batches, step, split,
    data_dir, config_name.
  """
  run = run_dir_lib.load_run(run_dir, best=best)
  data = data or run_dir_lib.dataset_dir(run_dir)
  if not data:
    raise UsageError(f'{run_dir} does not record its dataset; pass --data')
  source = sources.open_source(data, tfds_data_dir)
  # Any cut of the music scores a model (a transformer trained on random
  # crops, on an LSTM's 30 s chunks); what its controls mean may not differ.
  description_lib.check_encoding(run.config, source.description, source.location,
                         training=False)
  split = split or source.validation_split()
  if not source.has_split(split):
    raise UsageError(f'{source.location} has no {split} data (its splits: '
                     f'{", ".join(source.split_names()) or "none"})')
  built = source.description.get('config')
  if split == 'train' and built and input_lib.crop_length(built):
    raise UsageError(
        f'the {split} split of {source.location} holds whole performances, '
        'which the trainer crops at random; score its eval split (fixed '
        'windows), or data built with long_sequences=split')
  evaluation = run.task.evaluation(run.model, run.config)
  metrics = evaluation.evaluate(
      source, batch_size or run.config.train.batch_size, split=split,
      max_batches=max_batches)
  metrics.update(step=run.step, split=split,
                 data_dir=source.absolute_location(),
                 config_name=run.config.name)
  logging.info('musicrnn evaluate: %s at step %d, %s split: %s', run_dir,
               run.step, split, evaluation.describe(metrics))
  return metrics


def to_json(metrics):
  return json.dumps(metrics, indent=2, sort_keys=True)


def _dataset_source(data=None, run_dir=None):
  """The data source of a dataset (default: the one the run was trained
  on)."""
  data = data or run_dir_lib.dataset_dir(run_dir)
  if not data:
    raise UsageError(f'{run_dir} does not record its dataset; pass --data '
                     '(its dataset folder) or --notesequences')
  return sources.open_source(data)


def _benchmark_pieces(description):
  """(test pieces, train pieces) as NoteSequences of a dataset built from a
  benchmark .mat file, decoded at its encoding's frame length; None for
  any other dataset."""
  path = description.get('input') or ''
  if not boulanger.is_benchmark_file(path):
    return None
  if not os.path.exists(path):
    raise UsageError(f'the dataset was built from {path}, which is not there '
                     'any more: its test pieces are the real music the samples '
                     'are compared with; put the file back there')
  rolls = boulanger.read_mat(path)
  codec = frames.KeyFrameCodec(
      encodings.codec.codec_from_spec(description['encoding']).settings)
  return tuple([codec.decode(roll) for roll in rolls[split]]
               for split in ('test', 'train'))


def _real_data_of_dataset(source):
  """(NoteSequence pattern, eval ratio, split_by, sustain) of a dataset
  folder, as it was built."""
  # A dataset folder's description is its whole dataset.json.
  description = source.description
  pattern = description.get('input')
  if not isinstance(source, sources.DatasetFolder) or not pattern:
    raise UsageError(f'{source.location} does not name the NoteSequences it '
                     'was built from; pass --notesequences')
  data_config = description.get('config', {}).get('data', {})
  return (pattern, description.get('eval_ratio', 0.1),
          data_config.get('split_by', 'id'), bool(data_config.get('sustain', True)))


def _extracted_examples(source, max_reference=None, seed=0):
  """NoteSequences of the eval split's examples of a dataset whose codec
  extracts tracks (Magenta's melodies, drums, lead sheets, MusicVAE's
  windows: what its models learn and make), up to `max_reference` (a
  seeded sample); None for any other codec."""
  codec = encodings.codec.codec_from_spec(source.description['encoding'])
  if not codec.extracts or not source.files('eval'):
    return None
  found = [codec.decode_example({name: value.numpy() for name, value
                                 in record.items()})
           for record in source.records('eval', shuffle=False, repeat=False)]
  if max_reference and len(found) > max_reference:
    keep = np.random.default_rng(seed).choice(len(found), max_reference,
                                              replace=False)
    found = [found[i] for i in sorted(keep)]
  return found


def evaluate_samples(samples_dir, *, run_dir=None, data=None, notesequences=None,
                     eval_ratio=None, split_by='id', sustain=True,
                     chunk_seconds=None, max_reference=None, seed=0):
  """Compares the MIDI of `samples_dir` with the eval split of real data.

  Args:
    samples_dir: folder of generated .mid files.
    run_dir: the run that generated them: gives the NoteSequences, eval ratio,
      split and sustain of its dataset.
    data: a dataset folder to take them from instead of the run's.
    notesequences: NoteSequence TFRecord glob (instead of, or overriding,
      the run's); then `eval_ratio` (default 0.1), `split_by` and `sustain`.
    chunk_seconds: reference chunk length (default: the median duration of
      the generated files).
    max_reference: at most this many reference chunks (a seeded sample).

  Where the dataset's codec extracts tracks (Magenta's melodies, drums and
  lead sheets; MusicVAE's windows) and `notesequences` is not given, the
  reference is what the model learned: the eval split's examples, decoded,
  not chunks of the pieces they came from (`chunk_seconds` 0).

  Returns:
    `metrics.music.compare`'s report plus 'samples_dir', 'notesequences',
    'chunk_seconds'.
  """
  generated = samples.read_midi_dir(samples_dir)
  pieces = None
  examples = None
  if run_dir is not None or data is not None:
    source = _dataset_source(data, run_dir)
    if not notesequences:
      examples = _extracted_examples(source, max_reference, seed)
    pieces = None if notesequences else _benchmark_pieces(source.description)
    if pieces is None:
      pattern, run_ratio, split_by, sustain = _real_data_of_dataset(source)
      notesequences = notesequences or pattern
      eval_ratio = run_ratio if eval_ratio is None else eval_ratio
  if pieces is not None:
    # A benchmark's published split: the samples against its test pieces.
    eval_sequences, train_sequences = pieces
    notesequences = source.description['input']
  elif notesequences is None:
    raise UsageError('pass --run_dir (the run that made the samples) or '
                     '--notesequences (the real data, musicrnn_convert\'s output)')
  else:
    eval_ratio = 0.1 if eval_ratio is None else eval_ratio
    real = samples.read_notesequences(notesequences)
    eval_sequences, train_sequences = samples.split_real_data(real, eval_ratio,
                                                              split_by)
    if sustain:   # as the training data (n-grams do not depend on it)
      eval_sequences = [sequences_lib.apply_sustain_control_changes(s)
                        for s in eval_sequences]
  if not eval_sequences:
    raise UsageError(f'no eval NoteSequences in {notesequences} at eval ratio '
                     f'{eval_ratio:g}')
  if examples is not None:
    # The tracks or windows the model learned (a codec that extracts them
    # from the pieces): the reference is the eval split's, not the pieces.
    reference, chunk_seconds = examples, 0.0
  elif chunk_seconds is None:
    chunk_seconds = float(np.median([s.total_time for s in generated]))
  if examples is None:
    reference = (samples.chunk(eval_sequences, chunk_seconds)
                 if chunk_seconds > 0 else eval_sequences)
  if max_reference and len(reference) > max_reference:
    keep = np.random.default_rng(seed).choice(len(reference), max_reference,
                                              replace=False)
    reference = [reference[i] for i in sorted(keep)]
  against = (f'{len(reference)} eval examples' if examples is not None else
             f'{len(reference)} reference chunks of {chunk_seconds:.1f} s')
  logging.info('musicrnn evaluate: %d generated files against %s from %d '
               'eval pieces; n-grams of %d train pieces', len(generated),
               against, len(eval_sequences), len(train_sequences))
  report = music.compare(generated, reference, train_sequences or None)
  report.update(samples_dir=os.path.abspath(samples_dir),
                notesequences=notesequences, eval_ratio=eval_ratio,
                chunk_seconds=chunk_seconds,
                eval_pieces=len(eval_sequences), train_pieces=len(train_sequences))
  return report
