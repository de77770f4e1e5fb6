r"""Benchmark: musicrnn_create_dataset against a serial Magenta-style loop.

  python benchmarks/dataset_benchmark.py --input=/tmp/corpora/asap.tfrecord \
    --limit=40 --output_json=/tmp/dataset_benchmark.json --workers=1,2

Takes the first --limit NoteSequences of --input (musicrnn_convert's output),
then, on the same sequences and the same config (performance_with_dynamics by
default, with its train-split augmentation: stretches and transpositions):

  musicrnn   the Beam pipeline of musicrnn_create_dataset, with 1 and 2
             workers (multi-processing DirectRunner beyond one);
  baseline   a serial Python loop as Magenta's performance pipeline runs:
             sustain, stretch, 30 s splits, transposition with note-seq's
             sequences_lib, then absolute quantization, Performance and
             `encode_event` per event, and one SequenceExample of one-hot
             inputs per example (note-seq's make_sequence_example).

Every sequence is treated as train data (augmented) in both. Reports
NoteSequences/s, notes/s, events/s and the ratio musicrnn / baseline; the
example and event counts of both, which should agree. `--smoke` runs on the
committed test fixtures (the tests run it).
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags
import tensorflow as tf
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

import magenta_reference  # benchmarks/, beside this script
from musicrnn import configs
from musicrnn import encodings
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import dataset
from musicrnn.training import strategy as strategy_lib

flags.DEFINE_string('input', None, 'NoteSequence TFRecord file(s), a glob.')
flags.DEFINE_string('config', 'performance_with_dynamics',
                    'A performance config (the baseline encodes performances).')
flags.DEFINE_integer('limit', 40, 'NoteSequences used (the first N).',
                     lower_bound=1)
flags.DEFINE_list('workers', ['1', '2'], 'Beam worker counts to measure.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_bool('smoke', False, 'Committed test fixtures, tiny config (tests).')
FLAGS = flags.FLAGS


def read_first(pattern, limit):
  files = sorted(tf.io.gfile.glob(pattern))
  if not files:
    raise app.UsageError(f'--input={pattern} matches no file')
  return [music_pb2.NoteSequence.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(files).take(limit)]


def baseline(sequences, config):
  """The serial Magenta-style loop: (seconds, examples, events)."""
  data = config.data
  settings = encodings.codec_from_config(config).settings
  num_classes = encodings.codec_from_config(config).vocab_size
  examples = events = 0
  start = time.perf_counter()
  for sequence in sequences:
    if data.sustain:
      sequence = sequences_lib.apply_sustain_control_changes(sequence)
    for stretch in data.stretch_factors:
      stretched = (sequence if stretch == 1.0 else
                   sequences_lib.stretch_note_sequence(sequence, stretch))
      for chunk in sequences_lib.split_note_sequence(stretched, data.chunk_seconds):
        for transposition in data.transpositions:
          moved = chunk
          if transposition:
            moved, _ = sequences_lib.transpose_note_sequence(
                chunk, transposition, in_place=False)
          try:
            tokens, _ = magenta_reference.performance_tokens(moved, settings)
          except Exception:  # pylint: disable=broad-except
            continue  # the pipeline drops what note-seq cannot encode too
          for begin in range(0, max(len(tokens), 1), data.max_events):
            piece = tokens[begin:begin + data.max_events]
            if len(piece) < data.min_events:
              continue
            magenta_reference.one_hot_sequence_example(
                piece, num_classes).SerializeToString()
            examples += 1
            events += len(piece)
  return time.perf_counter() - start, examples, events


def pipeline(notesequences, config, workers, output_dir):
  """musicrnn_create_dataset with every sequence in train: (seconds, summary)."""
  args = []
  if workers > 1:
    args = ['--direct_running_mode=multi_processing',
            f'--direct_num_workers={workers}']
  start = time.perf_counter()
  summary = dataset.create_dataset(
      config, notesequences, output_dir, eval_ratio=0.0,
      pipeline_options=beam_utils.make_pipeline_options(args))
  return time.perf_counter() - start, summary


def run_benchmark(pattern, config, limit, workers):
  sequences = read_first(pattern, limit)
  notes = sum(len(s.notes) for s in sequences)
  results = {'device': strategy_lib.describe_devices(), 'config': config.name,
             'notesequences': len(sequences), 'notes': notes, 'pipeline': []}
  with tempfile.TemporaryDirectory() as tmp:
    subset = os.path.join(tmp, 'subset.tfrecord')
    with tf.io.TFRecordWriter(subset) as writer:
      for s in sequences:
        writer.write(s.SerializeToString())
    for n in workers:
      seconds, summary = pipeline(subset, config, n, os.path.join(tmp, f'w{n}'))
      results['pipeline'].append({
          'workers': n, 'seconds': round(seconds, 2),
          'examples': summary.examples['train'], 'events': summary.events['train'],
          'notesequences_per_second': round(len(sequences) / seconds, 2),
          'notes_per_second': round(notes / seconds, 1),
          'events_per_second': round(summary.events['train'] / seconds, 1)})
  seconds, examples, events = baseline(sequences, config)
  results['baseline'] = {
      'seconds': round(seconds, 2), 'examples': examples, 'events': events,
      'notesequences_per_second': round(len(sequences) / seconds, 2),
      'notes_per_second': round(notes / seconds, 1),
      'events_per_second': round(events / seconds, 1)}
  for run in results['pipeline']:
    run['speed_ratio_vs_baseline'] = round(
        run['notes_per_second'] / results['baseline']['notes_per_second'], 3)
  return results


def main(argv):
  del argv
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  config = configs.get_config(FLAGS.config + ('_tiny' if FLAGS.smoke else ''))
  if config.encoding.name != 'performance':
    raise app.UsageError(f'--config={FLAGS.config}: the baseline encodes '
                         'performances; pick a performance config')
  pattern, limit = FLAGS.input, FLAGS.limit
  tmp = None
  if FLAGS.smoke:
    from musicrnn.pipelines import convert  # pylint: disable=import-outside-toplevel
    tmp = tempfile.TemporaryDirectory()
    pattern = os.path.join(tmp.name, 'ns.tfrecord')
    convert.convert_directory(os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'tests', 'testdata', 'midi'), pattern)
  if not pattern:
    raise app.UsageError('--input (or --smoke) is required')
  results = run_benchmark(pattern, config, limit, [int(w) for w in FLAGS.workers])
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'{results["notesequences"]} NoteSequences, {results["notes"]} notes, '
        f'config {results["config"]}, on {results["device"]}')
  print(f'{"":<26}{"seq/s":>8}{"notes/s":>10}{"events/s":>11}{"examples":>10}{"ratio":>7}')
  for run in results['pipeline']:
    print(f'{"musicrnn, " + str(run["workers"]) + " worker(s)":<26}'
          f'{run["notesequences_per_second"]:>8}{run["notes_per_second"]:>10}'
          f'{run["events_per_second"]:>11}{run["examples"]:>10}'
          f'{run["speed_ratio_vs_baseline"]:>7}')
  b = results['baseline']
  print(f'{"Magenta-style serial loop":<26}{b["notesequences_per_second"]:>8}'
        f'{b["notes_per_second"]:>10}{b["events_per_second"]:>11}{b["examples"]:>10}'
        f'{1.0:>7}')
  if tmp is not None:
    tmp.cleanup()


if __name__ == '__main__':
  app.run(main)
