r"""Benchmark: XLA-compiled train steps (`jit_compile`) per model family.

  python benchmarks/xla_benchmark.py \
    --performance_data=/tmp/datasets/asap_performance_with_dynamics \
    --pianoroll_data=/tmp/datasets/nottingham_pianoroll_gan \
    --output_json=/tmp/xla.json --steps=20

For each model family (Performance RNN's event LSTM, Music Transformer,
dilated CNN, piano-roll GAN) at a CPU size (CPU_HPARAMS), it runs
`trainer.train` twice in the same process, on static-shape batches (every
batch [batch_size, data.max_events], or the GAN's segments: one shape, so
XLA compiles once) with the same seed, data order and batches:

  baseline  jit_compile=False: each replica's step runs as a TensorFlow graph;
  xla       jit_compile=True: XLA compiles the replica's step.

and reports events/s (real, non-padding events; piano-roll steps for the
GAN) over the second half of 2 x `--steps` steps (the first half traces,
compiles and warms up; its seconds are reported as warm-up), the events
trained and the last loss of each, and the ratio xla / baseline. The
transformer and the CNN train on the performance dataset with its data
settings (max_events and how long pieces were cut). Results name the
device. `--smoke` trains the tiny configs on datasets of the committed
fixtures (the tests run it).
"""

import json
import tempfile

from absl import app
from absl import flags

import smoke_data
from musicrnn.training import strategy as strategy_lib
from musicrnn.training import trainer
from musicrnn.training import compilation

flags.DEFINE_string('performance_data', None,
                    'Dataset of performance events (32 velocity bins) for the '
                    'event LSTM, transformer and CNN.')
flags.DEFINE_string('pianoroll_data', None, 'Piano-roll dataset for the GAN.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_integer('steps', 20, 'Training steps timed per measurement '
                     '(after as many warm-up steps).', lower_bound=2)
flags.DEFINE_list('families', ['event_lstm', 'music_transformer', 'dilated_cnn',
                               'pianoroll_gan'], 'Which families to measure.')
flags.DEFINE_bool('smoke', False, 'Tiny configs on datasets of the committed '
                  'fixtures, or on --performance_data and --pianoroll_data '
                  'when given (tests).')
FLAGS = flags.FLAGS

CPU_HPARAMS = {
    'event_lstm': 'rnn_layer_sizes=[128,128],batch_size=32',
    'music_transformer': ('num_layers=3,num_heads=4,model_dim=128,'
                          'feed_forward_dim=512,max_relative_distance=512,'
                          'batch_size=8'),
    'dilated_cnn': ('num_layers_per_block=9,residual_channels=64,'
                    'skip_channels=128,batch_size=16'),
    'pianoroll_gan': ('latent_dim=64,generator_channels=128,critic_channels=64,'
                      'batch_size=32'),
}
MODES = {'baseline': False, 'xla': True}


def time_training(config, data, steps, jit_compile, seed=0):
  """trainer.train with static shapes for 2 * steps: the second half's
  events/s, its events and last loss, and the first half's seconds."""
  with tempfile.TemporaryDirectory() as run_dir:
    summary = trainer.train(config, data, run_dir, num_steps=2 * steps,
                            log_every=steps, checkpoint_every=10 * steps,
                            eval_every=10 * steps, seed=seed, progress=False,
                            jit_compile=jit_compile, static_shapes=True)
  warm_up, record = summary.history
  if 'events' in record:
    events, loss = record['events'], record['loss']
  else:  # the GAN: its events are piano-roll steps
    events = record['segments'] * compilation.static_input_length(
        config, static_shapes=True)
    loss = record['critic_loss']
  seconds = steps / record['steps_per_second']
  return {'events_per_second': round(events / seconds, 1),
          'events': int(events), 'loss': loss,
          'warm_up_seconds': round(steps / warm_up['steps_per_second'], 2)}


def run_benchmark(families, steps, performance_data, pianoroll_data, smoke):
  results = {'device': strategy_lib.describe_devices(), 'steps': steps, 'runs': []}
  for family in families:
    data = pianoroll_data if family == 'pianoroll_gan' else performance_data
    if not data:
      print(f'skipping {family}: no dataset given')
      continue
    config = smoke_data.family_config(family, data, smoke, CPU_HPARAMS[family])
    run = {'family': family, 'config': config.name,
           'model': json.loads(json.dumps(config.model.to_dict())),
           'batch_size': config.train.batch_size,
           'static_length': compilation.static_input_length(config,
                                                        static_shapes=True)}
    for mode, jit_compile in MODES.items():
      run[mode] = time_training(config, data, steps, jit_compile)
    base = run['baseline']['events_per_second']
    xla = run['xla']['events_per_second']
    run['speed_ratio'] = round(xla / base, 3)
    results['runs'].append(run)
    print(f'{family:<18}{base:>14.0f}{xla:>14.0f}{xla / base:>8.2f}'
          f'{run["baseline"]["warm_up_seconds"]:>10.1f}'
          f'{run["xla"]["warm_up_seconds"]:>10.1f}', flush=True)
  return results


def main(argv):
  del argv
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  performance_data, pianoroll_data = FLAGS.performance_data, FLAGS.pianoroll_data
  steps = FLAGS.steps
  tmp = None
  if FLAGS.smoke:
    if not (performance_data or pianoroll_data):
      tmp = tempfile.TemporaryDirectory()
      performance_data, pianoroll_data = smoke_data.fixture_datasets(tmp.name)
    steps = 2
  print(f'{"family":<18}{"graph ev/s":>14}{"XLA ev/s":>14}{"ratio":>8}'
        f'{"warm-up s":>10}{"XLA":>10}')
  results = run_benchmark(FLAGS.families, steps, performance_data,
                          pianoroll_data, FLAGS.smoke)
  results['smoke'] = FLAGS.smoke
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'device: {results["device"]}; wrote {FLAGS.output_json}')
  if tmp is not None:
    tmp.cleanup()


if __name__ == '__main__':
  app.run(main)
