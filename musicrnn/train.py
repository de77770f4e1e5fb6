r"""musicrnn_train: train a config's model on a musicrnn dataset.

  musicrnn_train --config=performance_with_dynamics \
    --train_data=/tmp/perf_dataset --run_dir=/tmp/perf_run --num_steps=20000

--train_data takes a dataset folder of musicrnn_create_dataset, a TFDS
dataset built with musicrnn's builder (--train_data=tfds:musicrnn/polyphony
with --tfds_data_dir, or the dataset's folder), or a glob of SequenceExample
TFRecord files.

--jit_compile=on|off XLA-compiles the train and eval steps (auto: on for the
families it trains faster); with XLA, and on TPUs, batches have one shape
(--static_shapes). --mixed_precision=mixed_bfloat16 (TPUs, recent CPUs and
GPUs) or mixed_float16 (GPUs, with loss scaling) computes in 16 bits.

Override hparams Magenta-style (--hparams="batch_size=32,rnn_layer_sizes=[256,256]")
or with dotted flags (--config.train.learning_rate=3e-4). A killed run resumes
from its last checkpoint when started again with the same --run_dir;
--init_from=model.mrnn (or a run folder) starts a new run from trained weights.
"""


from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.train`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.tfrecords import sources
from musicrnn.training import compilation
from musicrnn.training import strategy as strategy_lib
from musicrnn.training import trainer
# pylint: enable=wrong-import-position

flags.DEFINE_string('config', None, 'Named config; see musicrnn.configs.names().')
flags.DEFINE_string('hparams', '', 'Magenta-style overrides, e.g. "batch_size=32".')
flags.DEFINE_string('train_data', None,
                    'Training data (its train split): ' + sources.FORMS + '.')
flags.DEFINE_string('eval_data', None,
                    'Data whose eval split (or a benchmark\'s valid split) '
                    'is evaluated, in the same forms (default: --train_data '
                    'when it has one).')
flags.DEFINE_string('tfds_data_dir', None,
                    'Where tfds:NAME datasets live (default: TFDS\'s, '
                    '~/tensorflow_datasets or $TFDS_DATA_DIR).')
flags.DEFINE_string('run_dir', None,
                    'Folder for config.json, checkpoints and TensorBoard events.')
flags.DEFINE_integer('num_steps', 10000, 'Total training steps of the run.',
                     lower_bound=1)
flags.DEFINE_enum('strategy', 'default', list(strategy_lib.STRATEGIES),
                  'Distribution strategy.')
flags.DEFINE_string('tpu', None, 'TPU name or address, for --strategy=tpu.')
flags.DEFINE_integer('cpu_devices', 0,
                     'With --strategy=mirrored: split the CPU into this many logical '
                     'devices and train on them as replicas (data parallelism without '
                     'GPUs); 0: off.', lower_bound=0)
flags.DEFINE_integer('seed', None, 'Random seed for initialisation and data order.')
flags.DEFINE_integer('checkpoint_every', 200, 'Steps between checkpoints.',
                     lower_bound=1)
flags.DEFINE_integer('keep_checkpoints', 5, 'Checkpoints kept.', lower_bound=1)
flags.DEFINE_integer('eval_every', 200, 'Steps between evaluations.', lower_bound=1)
flags.DEFINE_integer('eval_max_batches', None,
                     'Cap on batches per evaluation (default: the whole split).')
flags.DEFINE_integer('early_stopping', 0,
                     'Stop after this many evaluations in a row without a '
                     'better one (0: run --num_steps). The best evaluation\'s '
                     'model is kept in run_dir/best either way '
                     '(musicrnn_evaluate --best).', lower_bound=0)
flags.DEFINE_integer('log_every', 20, 'Steps between log lines.', lower_bound=1)
flags.DEFINE_enum('jit_compile', 'auto', ['auto', 'on', 'off'],
                  'XLA-compile the train and eval steps; auto: on for the model '
                  'families XLA trains faster on a CPU (the transformer, the GAN).')
flags.DEFINE_enum('static_shapes', 'auto', ['auto', 'on', 'off'],
                  'Pad every batch to one shape [batch_size, data.max_events]; '
                  'auto: on with XLA and on TPUs.')
flags.DEFINE_enum('mixed_precision', 'none', list(compilation.PRECISIONS),
                  'Compute in bfloat16 or float16 (variables, logits and loss '
                  'stay float32; float16 scales the loss).')
flags.DEFINE_string('init_from', None,
                    'Start a new run from the weights of a model file '
                    '(musicrnn_export\'s .mrnn) or a run folder of the same '
                    'model settings (fine-tuning: a fresh optimizer, step 0).')

FLAGS = flags.FLAGS

_SWITCH = {'auto': None, 'on': True, 'off': False}


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('config', 'train_data', 'run_dir')
  config = configs.get_config(FLAGS.config)
  configs.apply_overrides(config, hparams=FLAGS.hparams,
                          overrides=cli.config_overrides())
  strategy = strategy_lib.make_strategy(FLAGS.strategy, FLAGS.tpu, FLAGS.cpu_devices)
  summary = trainer.train(
      config, FLAGS.train_data, FLAGS.run_dir, num_steps=FLAGS.num_steps,
      eval_data=FLAGS.eval_data, tfds_data_dir=FLAGS.tfds_data_dir,
      strategy=strategy, seed=FLAGS.seed,
      checkpoint_every=FLAGS.checkpoint_every,
      keep_checkpoints=FLAGS.keep_checkpoints, eval_every=FLAGS.eval_every,
      eval_max_batches=FLAGS.eval_max_batches, log_every=FLAGS.log_every,
      jit_compile=_SWITCH[FLAGS.jit_compile],
      static_shapes=_SWITCH[FLAGS.static_shapes],
      mixed_precision=FLAGS.mixed_precision, init_from=FLAGS.init_from,
      early_stopping=FLAGS.early_stopping)
  print(f'run {summary.run_dir}: steps {summary.start_step} -> '
        f'{summary.final_step}' + (' (resumed)' if summary.resumed else ''))


def run():
  # Names other tools give the training data: Magenta's trainers'
  # --sequence_example_file, musicrnn_evaluate's --data.
  cli.run(main, aliases={'sequence_example_file': 'train_data', 'data': 'train_data'})


if __name__ == '__main__':
  run()
