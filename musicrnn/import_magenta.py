r"""musicrnn_import_magenta: a Magenta Performance RNN, Polyphony RNN, Melody
RNN, Drums RNN, Pianoroll RNN-NADE or MusicVAE as a run.

  musicrnn_import_magenta --bundle_file=performance_with_dynamics.mag \
    --run_dir=/tmp/pwd_magenta
  musicrnn_import_magenta --checkpoint=/tmp/magenta_train/model.ckpt-1000 \
    --config=polyphony --run_dir=/tmp/poly_magenta
  musicrnn_import_magenta --checkpoint=/tmp/melody_rnn/logdir/run1/train \
    --config=attention_rnn --run_dir=/tmp/attention_magenta
  musicrnn_import_magenta --checkpoint=/tmp/cat-mel_2bar_big.ckpt \
    --config=cat-mel_2bar_big --run_dir=/tmp/mel_2bar_magenta

The run generates (musicrnn_generate --run_dir=...), evaluates on a dataset
of its config (musicrnn_evaluate --run_dir=... --data=...) and fine-tunes
(musicrnn_train --config=<the config> --run_dir=... --train_data=...) as any
run (--hparams="batch_size=16,learning_rate=1e-4" at import sets what
fine-tuning uses; musicrnn_train then takes the same). Layer sizes and the
attention's place come from the checkpoint; its id (a bundle's generator
id, or --config) names the encoding and controls. Imports: performance,
performance_with_dynamics, performance_with_dynamics_and_modulo_encoding,
density_conditioned_performance_with_dynamics,
pitch_conditioned_performance_with_dynamics,
multiconditioned_performance_with_dynamics, polyphony, basic_rnn,
mono_rnn, lookback_rnn, attention_rnn, drum_kit (musicrnn's config
drum_kit_rnn), rnn-nade, rnn-nade_attn, and MusicVAE's checkpoints of
cat-mel_2bar_small, cat-mel_2bar_big, cat-drums_2bar_small and
hierdec-mel_16bar (z_size and layer sizes from the checkpoint; the
hierarchical decoder's 16 bars of 16 steps are the config's). An
attention window is no tensor's shape: it is the config's (attention_rnn
40, drum_kit and rnn-nade_attn 32) unless --hparams=attn_length=N says
otherwise.
--checkpoint may name a training run's folder: its latest checkpoint, even
where the folder's `checkpoint` file holds the paths of another machine.
"""

from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.import_magenta`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.errors import UsageError
from musicrnn.runs import magenta
# pylint: enable=wrong-import-position

flags.DEFINE_string('bundle_file', None, 'A Magenta .mag bundle.')
flags.DEFINE_string('checkpoint', None,
                    'A Magenta training checkpoint (instead of --bundle_file): '
                    'model.ckpt-N or its training folder, with --config '
                    'naming its Magenta config.')
flags.DEFINE_enum('config', None, list(magenta.GENERATOR_IDS),
                  'The Magenta config of --checkpoint.')
flags.DEFINE_string('run_dir', None, 'The new run folder.')
flags.DEFINE_string('hparams', '', 'Overrides for fine-tuning the run, e.g. '
                    '"batch_size=16,learning_rate=1e-4" (musicrnn_train on it '
                    'then takes the same); layer sizes come from the checkpoint.')

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('run_dir')
  if bool(FLAGS.bundle_file) == bool(FLAGS.checkpoint):
    raise UsageError('give --bundle_file or --checkpoint (with --config)')
  if FLAGS.bundle_file:
    if FLAGS.config:
      raise UsageError('--config is for --checkpoint; a bundle names its own')
    run_dir = magenta.import_bundle(FLAGS.bundle_file, FLAGS.run_dir,
                                    FLAGS.hparams)
  else:
    if not FLAGS.config:
      raise UsageError('--checkpoint needs --config, the Magenta config it was '
                       f'trained with: one of {", ".join(magenta.GENERATOR_IDS)}')
    run_dir = magenta.import_checkpoint(FLAGS.checkpoint, FLAGS.config,
                                        FLAGS.run_dir, hparams=FLAGS.hparams)
  print(run_dir)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
