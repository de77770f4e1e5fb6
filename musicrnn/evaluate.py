r"""musicrnn_evaluate: how well a run models held-out data, as JSON.

Autoregressive runs: NLL per event, perplexity and accuracy. Piano-roll GAN
runs: the MuseGAN metrics (empty-bar rate, used pitch classes per bar,
qualified-note rate) of the split's segments and of generated ones, side by
side, and the critic's Wasserstein estimate.

  musicrnn_evaluate --run_dir=/tmp/perf_run [--data=/tmp/perf_dataset] \
    [--split=eval] [--output_json=/tmp/perf_run/nll.json]

With --samples_dir, the musical metrics of a folder of generated MIDI
against the eval split of the real data (see musicrnn/metrics/music.py):
pitch-class, velocity, inter-onset-interval and note-duration histogram
distances, pitch range, pitches used, polyphony, notes per second,
empty-beat rate, scale consistency, the share of notes that last as long as
generation's note cap (those the cap ended), and the share of 8-note n-grams
copied from the training data. Writes JSON and a PNG of generated against
real histograms.

  musicrnn_evaluate --samples_dir=/tmp/samples --run_dir=/tmp/perf_run
  musicrnn_evaluate --samples_dir=/tmp/samples \
    --notesequences=/tmp/notesequences.tfrecord --eval_ratio=0.1
"""

import os

from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.evaluate`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.errors import UsageError
from musicrnn.metrics import samples
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.tfrecords import sources
# pylint: enable=wrong-import-position

flags.DEFINE_string('run_dir', None, 'A run directory written by musicrnn_train.')
flags.DEFINE_string('data', None,
                    'Data to score (default: what the run was trained on): '
                    + sources.FORMS + '. With --samples_dir, the dataset '
                    'folder whose NoteSequences and split are the real data.')
flags.DEFINE_string('tfds_data_dir', None,
                    'Where tfds:NAME datasets live (default: TFDS\'s, '
                    '~/tensorflow_datasets or $TFDS_DATA_DIR).')
flags.DEFINE_enum('split', None, ['eval', 'train', 'valid', 'test'],
                  'Which split to score (default: the one training validates '
                  'on: eval, or valid of a benchmark\'s published splits).')
flags.DEFINE_bool('best', False, 'Score the model of the run\'s best '
                  'evaluation (run_dir/best), not its latest checkpoint.')
flags.DEFINE_integer('batch_size', None, 'Default: the config\'s batch size.')
flags.DEFINE_integer('max_batches', None, 'Cap on batches (default: all).')
flags.DEFINE_string('output_json', None,
                    'Also write the metrics here (with --samples_dir, default '
                    '<samples_dir>/musical_metrics.json).')
flags.DEFINE_string('samples_dir', None,
                    'Folder of generated MIDI: report musical metrics against '
                    'the real eval data instead of NLL.')
flags.DEFINE_string('notesequences', None,
                    'With --samples_dir: the real data, NoteSequence TFRecords '
                    '(default: those the --run_dir dataset was built from).')
flags.DEFINE_float('eval_ratio', None,
                   'With --notesequences: the eval ratio of the split (default: '
                   'the run dataset\'s, else 0.1).')
flags.DEFINE_float('chunk_seconds', None,
                   'With --samples_dir: cut the real pieces into chunks this long '
                   '(default: the median length of the samples; 0: whole pieces).')
flags.DEFINE_integer('max_reference', 2000,
                     'With --samples_dir: at most this many real chunks (a '
                     'seeded sample).', lower_bound=1)
flags.DEFINE_string('output_png', None,
                    'With --samples_dir: the summary figure (default '
                    '<samples_dir>/musical_metrics.png).')

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if FLAGS.samples_dir:
    _evaluate_samples()
    return
  for name in ('notesequences', 'eval_ratio', 'chunk_seconds', 'output_png'):
    if FLAGS[name].present:
      raise UsageError(f'--{name} goes with --samples_dir')
  cli.require('run_dir')
  metrics = evaluate_lib.evaluate_run(FLAGS.run_dir, FLAGS.data, split=FLAGS.split,
                             batch_size=FLAGS.batch_size,
                             max_batches=FLAGS.max_batches,
                             tfds_data_dir=FLAGS.tfds_data_dir, best=FLAGS.best)
  text = evaluate_lib.to_json(metrics)
  if FLAGS.output_json:
    with open(FLAGS.output_json, 'w') as f:
      f.write(text + '\n')
  print(text)


def _evaluate_samples():
  for name in ('split', 'batch_size', 'max_batches', 'best'):
    if FLAGS[name].present:
      raise UsageError(f'--{name} scores a run on data; it does not go with '
                       '--samples_dir')
  report = evaluate_lib.evaluate_samples(
      FLAGS.samples_dir, run_dir=FLAGS.run_dir, data=FLAGS.data,
      notesequences=FLAGS.notesequences,
      eval_ratio=FLAGS.eval_ratio, chunk_seconds=FLAGS.chunk_seconds,
      max_reference=FLAGS.max_reference)
  text = samples.to_json(report)
  json_path = FLAGS.output_json or os.path.join(FLAGS.samples_dir,
                                                'musical_metrics.json')
  png_path = FLAGS.output_png or os.path.join(FLAGS.samples_dir,
                                              'musical_metrics.png')
  with open(json_path, 'w') as f:
    f.write(text + '\n')
  samples.write_figure(report, png_path)
  print(text)
  print(f'wrote {json_path} and {png_path}')


def run():
  # The trainer's names for the data to score.
  cli.run(main, aliases={'eval_data': 'data', 'train_data': 'data'})


if __name__ == '__main__':
  run()
