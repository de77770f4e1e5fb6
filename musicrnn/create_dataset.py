r"""musicrnn_create_dataset: NoteSequences -> train/eval SequenceExamples.

  musicrnn_create_dataset --config=performance_with_dynamics \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/perf_dataset \
    --eval_ratio=0.1

Runs a Beam pipeline (local runner unless --runner says otherwise; every
Beam pipeline option is passed through). Writes train and eval TFRecord
shards, each split's examples shuffled across its shards in an order fixed
by --seed (so every training batch mixes the corpus), stats.json (a count for every stage and every reason a sequence was
dropped) and dataset.json (encoding, config, counts per split; the trainer
reads it). Config values can be overridden with --hparams="max_events=256"
or dotted flags such as --config.data.split_by=folder.

The 2012 polyphonic benchmark's files (JSB_Chorales.mat, Nottingham.mat,
MuseData.mat, Piano-midi.de.mat) are read as published: --input=FILE.mat
writes their train, valid and test splits, a piece per example, with a
config of its 88-key frames (tcn, frames_lstm, rnn-nade):

  musicrnn_create_dataset --config=tcn --input=JSB_Chorales.mat \
    --output_dir=/tmp/jsb
"""


from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.create_dataset`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import boulanger
from musicrnn.pipelines import dataset
# pylint: enable=wrong-import-position

flags.DEFINE_string('config', None, 'Named config; see musicrnn.configs.names().')
flags.DEFINE_string('input', None,
                    'NoteSequence TFRecord file(s) from musicrnn_convert; a glob. '
                    'Or a .mat file of the 2012 polyphonic benchmark: its '
                    'train, valid and test splits as published.')
flags.DEFINE_string('output_dir', None, 'Folder to write the dataset to.')
flags.DEFINE_float('eval_ratio', 0.1,
                   'Fraction of source sequences (by a hash of their id) in '
                   'eval; 1 makes a held-out set (an official validation '
                   'split) for musicrnn_train --eval_data.')
flags.DEFINE_string('hparams', '',
                    'Magenta-style overrides, e.g. "max_events=256,min_events=16".')
flags.DEFINE_integer('num_shards', 0,
                     'Shards per split (0: about one per 64 MiB of examples, '
                     'at most 256). Examples are shuffled across them.',
                     lower_bound=0)
flags.DEFINE_integer('seed', 0, 'The random order of the examples in the shards '
                     '(the same seed and input give the same files).')
flags.DEFINE_bool('overwrite', False, 'Replace an existing dataset.')

FLAGS = flags.FLAGS


def main(argv):
  cli.require('config', 'input', 'output_dir')
  options = beam_utils.make_pipeline_options(
      argv[1:], own_flags=cli.own_flag_names(__name__))
  config = configs.get_config(FLAGS.config)
  configs.apply_overrides(config, hparams=FLAGS.hparams,
                          overrides=cli.config_overrides())
  if boulanger.is_benchmark_file(FLAGS.input):
    if FLAGS['eval_ratio'].present:
      raise UsageError('--eval_ratio does not go with a benchmark .mat file: '
                       'its train, valid and test splits are the published ones')
    summary = boulanger.create_dataset(
        config, FLAGS.input, FLAGS.output_dir, num_shards=FLAGS.num_shards,
        seed=FLAGS.seed, overwrite=FLAGS.overwrite, pipeline_options=options)
  else:
    summary = dataset.create_dataset(
        config, FLAGS.input, FLAGS.output_dir, eval_ratio=FLAGS.eval_ratio,
        num_shards=FLAGS.num_shards, seed=FLAGS.seed,
        overwrite=FLAGS.overwrite, pipeline_options=options)
  print(f'wrote {summary.output_dir}/{{{",".join(summary.examples)}}}'
        '.tfrecord-*, stats.json, dataset.json')


def run():
  cli.run(main, beam=True)


if __name__ == '__main__':
  run()
