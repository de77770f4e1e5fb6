r"""Benchmark: time per generated token with the incremental step (the
transformer's key/value cache, the dilated CNN's Fast WaveNet queues)
against recomputing the full forward pass over the prefix.

  python benchmarks/cached_step_benchmark.py --output_json=/tmp/cached.json \
    --configs=music_transformer,dilated_cnn --positions=256,1024,2048

For each config (its default model, or `--hparams` overrides; untrained
weights time the same as trained ones) and each position p, in one run:
- cached: the state, sized for an output that ends just after p, is built
  up to p with the model's `step` in an XLA-compiled loop (as the sampler
  runs it), then a loop of `--repeats` further steps from p is timed; each
  step is one token;
- recomputed: the compiled full forward pass over the p + 1 events of the
  prefix, which is what each token costs without a cache (the logits of the
  last position are the next token's distribution).
Reports seconds per token for both and their ratio, at each of
`--batch_sizes` (a step of batch b makes b tokens; the times are per step).

Beside them, the bound this machine sets for the cached step, measured in
the same run: the bytes a step must read (every weight but the input
embedding tables, of which it reads a row per sequence; the state, of which
a cache along the sequence, and the transformer's relative embeddings laid
out in it, are read up to the position) divided by the bandwidth of a large
array copy (bytes copied per second, the best of 5 copies of a 256 MiB
array). `bound_ratio` is the cached step's time over that bound. `--smoke`
uses the tiny configs and short positions (the tests run it).
"""

import json
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

import smoke_data
from musicrnn.training import strategy as strategy_lib

flags.DEFINE_list('configs', ['performance_with_dynamics', 'music_transformer',
                               'dilated_cnn'],
                  'Configs whose models are timed.')
flags.DEFINE_string('hparams', '', 'Overrides applied to every config, e.g. '
                    '"num_layers=4,model_dim=256".')
flags.DEFINE_list('positions', ['256', '1024', '2048'],
                  'Prefix lengths at which a token is timed.')
flags.DEFINE_integer('repeats', 8, 'Steps timed per position and method.')
flags.DEFINE_list('batch_sizes', ['1', '8'], 'Batch sizes timed.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_bool('smoke', False, 'Tiny configs and positions (tests).')
FLAGS = flags.FLAGS


def build(name, hparams):
  config, model, codec = smoke_data.untrained_model(name, hparams)
  return config, model, codec.vocab_size


def copy_bandwidth(megabytes=256, repeats=5):
  """Bytes copied per second by the best of `repeats` copies of a large
  array: the memory bandwidth a step that streams its weights can reach."""
  source = np.ones(megabytes * (1 << 20) // 4, np.float32)
  target = np.empty_like(source)
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    np.copyto(target, source)
    best = min(best, time.perf_counter() - start)
  return source.nbytes / best


def _state_bytes(states):
  return [int(np.prod(tuple(s.shape))) * np.dtype(s.dtype.as_numpy_dtype).itemsize
          for s in states]


def step_bytes(model, vocab_size, batch, position):
  """The bytes one cached step at `position` must read: the weights (an
  input embedding table [vocab, width] only a row per sequence), and the
  states, those that grow with the output length (a cache) only up to
  `position`, at the bytes per position measured between two lengths."""
  total = 0
  for weight in model.weights:
    shape = tuple(weight.shape)
    itemsize = np.dtype(weight.dtype).itemsize
    size = int(np.prod(shape)) * itemsize
    if len(shape) == 2 and shape[0] in (vocab_size, vocab_size + 1) and (
        'embed' in weight.path):
      size = batch * shape[1] * itemsize
    if weight.path.endswith('relative_embeddings'):
      # The step reads the transformer's relative embeddings from the copy
      # laid out in its state, counted with the state below.
      size = 0
    total += size
  short, long = 1024, 2048
  for at_short, at_long in zip(_state_bytes(model.initial_state(batch, short)),
                               _state_bytes(model.initial_state(batch, long))):
    per_position = (at_long - at_short) / (long - short)
    total += per_position * (position + 1) if per_position else at_short
  return int(round(total))


def _stepper(model):
  """A loop of `model.step` over [batch, n] tokens, from given states,
  compiled with XLA as the sampler compiles its loop."""

  @tf.function(reduce_retracing=True, jit_compile=True)
  def run_steps(tokens, states):
    def body(i, states):
      _, states = model.step({'tokens': tokens[:, i]}, states)
      return i + 1, states
    _, states = tf.while_loop(lambda i, _: i < tf.shape(tokens)[1], body,
                              (tf.constant(0), states))
    return states

  return run_steps


def time_model(model, vocab_size, positions, repeats, rng, batch=1,
               bandwidth=None):
  """[{position, batch_size, cached_seconds_per_token (per step),
  recomputed_seconds_per_token, speed_ratio, step_bytes,
  bound_seconds_per_step, bound_ratio}] for one model."""
  tokens = rng.integers(0, vocab_size, size=(batch, max(positions) + 2 * repeats + 1)
                        ).astype(np.int32)
  run_steps = _stepper(model)
  forward = tf.function(lambda t: model({'tokens': t})[:, -1],
                        reduce_retracing=True)
  rows = []
  for position in positions:
    # Build the state up to `position`, warm the timed loop up on the next
    # `repeats` tokens, then time `repeats` more: the position advances by
    # `repeats` during the timing, which the ratio reports honestly. The
    # state is sized for an output that ends there, as the sampler sizes it.
    longest = position + 2 * repeats + 1
    initial = model.initial_state(batch, longest)
    states = run_steps(tf.constant(tokens[:, :position]), initial)
    window = tf.constant(tokens[:, position:position + repeats])
    # One output of the loop is ready when all are: reading it waits for the
    # steps without copying the cache out (converting every state did, and
    # charged that to the step).
    run_steps(window, states)[0].numpy()
    start = time.perf_counter()
    run_steps(window, states)[0].numpy()
    cached = (time.perf_counter() - start) / repeats
    prefix = tf.constant(tokens[:, :position + 1])
    forward(prefix).numpy()                                 # trace and warm
    start = time.perf_counter()
    for _ in range(repeats):
      forward(prefix).numpy()
    recomputed = (time.perf_counter() - start) / repeats
    row = {'position': position, 'batch_size': batch,
           'cached_seconds_per_token': round(cached, 6),
           'recomputed_seconds_per_token': round(recomputed, 6),
           'speed_ratio': round(recomputed / cached, 2)}
    if bandwidth:
      needed = step_bytes(model, vocab_size, batch, position + repeats // 2)
      bound = needed / bandwidth
      row.update(step_bytes=needed, bound_seconds_per_step=round(bound, 6),
                 bound_ratio=round(cached / bound, 2))
    rows.append(row)
  return rows


def main(argv):
  del argv
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  names, positions, hparams = FLAGS.configs, [int(p) for p in FLAGS.positions], \
      FLAGS.hparams
  repeats = FLAGS.repeats
  batch_sizes = [int(b) for b in FLAGS.batch_sizes]
  if FLAGS.smoke:
    names = [n if n.endswith('_tiny') else n + '_tiny' for n in names]
    positions, repeats = [8, 32], 4
  rng = np.random.default_rng(0)
  bandwidth = copy_bandwidth()
  results = {'device': strategy_lib.describe_devices(), 'batch_sizes': batch_sizes,
             'repeats': repeats, 'copy_bytes_per_second': round(bandwidth),
             'models': []}
  for name in names:
    config, model, vocab_size = build(name, hparams)
    runs = []
    for batch in batch_sizes:
      runs += time_model(model, vocab_size, positions, repeats, rng, batch,
                         bandwidth)
    results['models'].append({
        'config': name, 'family': config.family,
        'model': config.model.to_dict(),
        'parameters': int(model.count_params()), 'runs': runs})
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'seconds per step on {results["device"]}; copy bandwidth '
        f'{bandwidth / 1e9:.1f} GB/s')
  print(f'{"config":<22}{"batch":>6}{"position":>9}{"cached":>11}'
        f'{"recomputed":>12}{"ratio":>7}{"bound":>10}{"x bound":>8}')
  for entry in results['models']:
    for r in entry['runs']:
      print(f'{entry["config"]:<22}{r["batch_size"]:>6}{r["position"]:>9}'
            f'{r["cached_seconds_per_token"]:>11.5f}'
            f'{r["recomputed_seconds_per_token"]:>12.5f}{r["speed_ratio"]:>7}'
            f'{r["bound_seconds_per_step"]:>10.5f}{r["bound_ratio"]:>8}')


if __name__ == '__main__':
  app.run(main)
