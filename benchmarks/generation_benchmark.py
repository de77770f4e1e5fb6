r"""Benchmark: compiled batch sampling against a naive per-event Python loop.

  python benchmarks/generation_benchmark.py --run_dir=/tmp/perf_run \
    --output_json=/tmp/generation.json --batch_sizes=1,8 --num_steps=500

For each batch size it times musicrnn's sampler (one tf.function with a
tf.while_loop over events, after a warm-up call that traces it) and, in the
same run, the naive loop a first script would write: Python calls the model
eagerly once per event, carrying the recurrent state, and samples with
numpy. Reports events/s (events generated across the batch per second) and
the ratio. `--smoke` uses an untrained tiny event LSTM (seconds; the tests
run it).
"""

import json
import time

from absl import app
from absl import flags
import numpy as np

from musicrnn.generation import sampler
from musicrnn.models.event_lstm import EventLSTM
from musicrnn.training import run_dir as run_dir_lib
from musicrnn.training import strategy as strategy_lib

flags.DEFINE_string('run_dir', None, 'A trained run to sample from.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_list('batch_sizes', ['1', '8'], 'Batch sizes to measure.')
flags.DEFINE_integer('num_steps', 500, 'Events per output.')
flags.DEFINE_bool('smoke', False, 'Tiny untrained model, few steps (tests).')
FLAGS = flags.FLAGS


def naive_loop(model, primer, num_steps, controls, seed=0):
  """Eager Python loop: one model.step call and one numpy draw per event."""
  rng = np.random.default_rng(seed)
  batch = primer.shape[0]
  states = model.initial_state(batch, num_steps + 1)
  token = primer[:, 0]
  out = [token]
  for t in range(num_steps):
    inputs = {'tokens': token}
    inputs.update({k: v[:, t + 1] for k, v in controls.items()})
    logits, states = model.step(inputs, states)
    logits = np.asarray(logits, np.float64)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    token = np.array([rng.choice(len(p), p=p) for p in probs], np.int32)
    out.append(token)
  return np.stack(out, axis=1)


def _controls(model, batch, total):
  controls = {}
  for name, size in model.control_sizes.items():
    if name == 'note_density':
      controls[name] = np.full((batch, total), 3, np.int32)
    else:
      controls[name] = np.full((batch, total, size), 1.0 / size, np.float32)
  return controls


def run_benchmark(model, batch_sizes, num_steps, description):
  results = {'device': strategy_lib.describe_devices(), 'model': description, 'num_steps': num_steps,
             'runs': []}
  for batch in batch_sizes:
    primer = np.zeros((batch, 1), np.int32)
    controls = _controls(model, batch, num_steps + 1)
    sampler.sample(model, primer, num_steps, controls=controls, seed=0)  # trace
    start = time.perf_counter()
    sampler.sample(model, primer, num_steps, controls=controls, seed=1)
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    naive_loop(model, primer, num_steps, controls)
    naive = time.perf_counter() - start
    results['runs'].append({
        'batch_size': batch,
        'compiled_seconds': round(compiled, 3),
        'compiled_events_per_second': round(batch * num_steps / compiled, 1),
        'naive_seconds': round(naive, 3),
        'naive_events_per_second': round(batch * num_steps / naive, 1),
        'speed_ratio': round(naive / compiled, 2),
    })
  return results


def main(argv):
  del argv
  if FLAGS.smoke:
    model = EventLSTM(40, rnn_layer_sizes=(16,), control_sizes={'note_density': 8})
    model({'tokens': np.zeros((1, 1), np.int32),
           'note_density': np.zeros((1, 1), np.int32)})
    description, num_steps = 'untrained EventLSTM 1x16 (smoke)', 20
  else:
    if not FLAGS.run_dir:
      raise app.UsageError('--run_dir (or --smoke) is required')
    run = run_dir_lib.load_run(FLAGS.run_dir)
    model, num_steps = run.model, FLAGS.num_steps
    description = (f'{run.config.name} {type(model).__name__} '
                   f'{json.dumps(run.config.model.to_dict())}, step {run.step}')
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  results = run_benchmark(model, [int(b) for b in FLAGS.batch_sizes], num_steps,
                          description)
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'{results["model"]} on {results["device"]}, {num_steps} events per output')
  print(f'{"batch":>6}{"compiled ev/s":>16}{"naive ev/s":>14}{"ratio":>8}')
  for r in results['runs']:
    print(f'{r["batch_size"]:>6}{r["compiled_events_per_second"]:>16}'
          f'{r["naive_events_per_second"]:>14}{r["speed_ratio"]:>8}')


if __name__ == '__main__':
  app.run(main)
