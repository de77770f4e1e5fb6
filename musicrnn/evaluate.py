r"""musicrnn_evaluate: how well a run models held-out data, as JSON.

Autoregressive runs: NLL per event, perplexity and accuracy. Piano-roll GAN
runs: the MuseGAN metrics (empty-bar rate, used pitch classes per bar,
qualified-note rate) of the split's segments and of generated ones, side by
side, and the critic's Wasserstein estimate.

  musicrnn_evaluate --run_dir=/tmp/perf_run [--data=/tmp/perf_dataset] \
    [--split=eval] [--output_json=/tmp/perf_run/nll.json]
"""

from absl import flags

from musicrnn import cli
from musicrnn.errors import UsageError
from musicrnn.metrics import nll
from musicrnn.tfrecords import sources

flags.DEFINE_string('run_dir', None, 'A run directory written by musicrnn_train.')
flags.DEFINE_string('data', None,
                    'Data to score (default: what the run was trained on): '
                    + sources.FORMS + '.')
flags.DEFINE_string('tfds_data_dir', None,
                    'Where tfds:NAME datasets live (default: TFDS\'s, '
                    '~/tensorflow_datasets or $TFDS_DATA_DIR).')
flags.DEFINE_enum('split', 'eval', ['eval', 'train'], 'Which split to score.')
flags.DEFINE_integer('batch_size', None, 'Default: the config\'s batch size.')
flags.DEFINE_integer('max_batches', None, 'Cap on batches (default: all).')
flags.DEFINE_string('output_json', None, 'Also write the metrics here.')

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('run_dir')
  metrics = nll.evaluate_run(FLAGS.run_dir, FLAGS.data, split=FLAGS.split,
                             batch_size=FLAGS.batch_size,
                             max_batches=FLAGS.max_batches,
                             tfds_data_dir=FLAGS.tfds_data_dir)
  text = nll.to_json(metrics)
  if FLAGS.output_json:
    with open(FLAGS.output_json, 'w') as f:
      f.write(text + '\n')
  print(text)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
