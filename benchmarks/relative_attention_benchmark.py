r"""Benchmark: peak memory of relative attention logits, the Music
Transformer's skewing against the naive form.

  python benchmarks/relative_attention_benchmark.py \
    --output_json=/tmp/relative.json --lengths=512,1024,2048

For each length L and form, a fresh process computes the relative logits of
one layer (batch 1, `--num_heads` heads of `--head_dim`, forward and the
gradient with respect to queries and embeddings, as in training) and
reports its peak memory above the process's baseline: on a GPU,
TensorFlow's allocator peak; on the CPU, the growth of the peak resident
set (VmHWM; ru_maxrss off Linux). The naive form gathers an
[heads, L, L, head_dim] tensor of embeddings (O(L²·D)); skewing needs the
[heads, L, head_dim] rows and the [L, L] logits (O(L·D) beyond the logits
every attention has). Both forms are checked to give the same logits first.
`--smoke` uses short lengths.
"""

import json
import resource
import subprocess
import sys

from absl import app
from absl import flags

flags.DEFINE_list('lengths', ['512', '1024', '2048'], 'Sequence lengths.')
flags.DEFINE_integer('num_heads', 4, 'Attention heads.')
flags.DEFINE_integer('head_dim', 32, 'Size of each head.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_bool('smoke', False, 'Short lengths (tests).')
# Internal: one measurement in a child process.
flags.DEFINE_string('measure', None, 'skewed or naive (child process).')
flags.DEFINE_integer('length', 0, 'Length to measure (child process).')
FLAGS = flags.FLAGS

MIB = 1 << 20


def _peak_rss_bytes():
  """This process's peak resident set. On Linux its own memory's high-water
  mark (VmHWM): ru_maxrss keeps, across fork and exec, the peak of the
  process that started this one, so a large parent would hide this
  process's growth."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(form, length, num_heads, head_dim):
  """Peak bytes of one forward + backward of the relative logits."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from musicrnn.models import music_transformer  # pylint: disable=import-outside-toplevel
  fn = {'skewed': music_transformer.relative_logits_skewed,
        'naive': music_transformer.relative_logits_naive}[form]
  gpu = bool(tf.config.list_physical_devices('GPU'))

  @tf.function
  def logits_and_grads(queries, embeddings):
    with tf.GradientTape() as tape:
      tape.watch([queries, embeddings])
      logits = fn(queries, embeddings)
      total = tf.reduce_sum(tf.linalg.band_part(logits, -1, 0))
    return total, tape.gradient(total, [queries, embeddings])

  rng = np.random.default_rng(0)
  # Warm the kernels up on a short input, so the baseline holds them.
  small = tf.constant(rng.normal(size=(1, num_heads, 8, head_dim)), tf.float32)
  embeddings = tf.constant(rng.normal(size=(num_heads, length, head_dim)),
                           tf.float32)
  logits_and_grads(small, embeddings)
  queries = tf.constant(rng.normal(size=(1, num_heads, length, head_dim)),
                        tf.float32)
  if gpu:
    tf.config.experimental.reset_memory_stats('GPU:0')
    base = tf.config.experimental.get_memory_info('GPU:0')['current']
  else:
    base = _peak_rss_bytes()
  total, _ = logits_and_grads(queries, embeddings)
  float(total)
  if gpu:
    peak = tf.config.experimental.get_memory_info('GPU:0')['peak'] - base
  else:
    peak = _peak_rss_bytes() - base
  return max(int(peak), 0)


def _child(form, length, num_heads, head_dim):
  result = subprocess.run(
      [sys.executable, __file__, f'--measure={form}', f'--length={length}',
       f'--num_heads={num_heads}', f'--head_dim={head_dim}'],
      capture_output=True, text=True, check=False)
  if result.returncode:
    raise RuntimeError(f'{form} at length {length} failed:\n{result.stderr[-2000:]}')
  return json.loads(result.stdout.strip().splitlines()[-1])


def check_equal(num_heads, head_dim, length=64):
  """The two forms agree on the causal (j <= i) entries."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from musicrnn.models import music_transformer  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(1)
  queries = tf.constant(rng.normal(size=(1, num_heads, length, head_dim)),
                        tf.float32)
  embeddings = tf.constant(rng.normal(size=(num_heads, length // 2, head_dim)),
                           tf.float32)
  lower = np.tril(np.ones((length, length), bool))
  skewed = music_transformer.relative_logits_skewed(queries, embeddings).numpy()
  naive = music_transformer.relative_logits_naive(queries, embeddings).numpy()
  return float(np.abs(skewed[..., lower] - naive[..., lower]).max())


def main(argv):
  del argv
  if FLAGS.measure:
    print(json.dumps({'peak_bytes': measure(FLAGS.measure, FLAGS.length,
                                            FLAGS.num_heads, FLAGS.head_dim)}))
    return
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  from musicrnn.training import strategy as strategy_lib  # pylint: disable=import-outside-toplevel
  lengths = [64] if FLAGS.smoke else [int(n) for n in FLAGS.lengths]
  heads, depth = FLAGS.num_heads, FLAGS.head_dim
  results = {'device': strategy_lib.describe_devices(), 'batch_size': 1,
             'num_heads': heads, 'head_dim': depth,
             'max_abs_difference': check_equal(heads, depth), 'runs': []}
  for length in lengths:
    row = {'length': length,
           # The tensors that set each form apart, float32.
           'naive_embedding_tensor_bytes': 4 * heads * length * length * depth,
           'skewed_embedding_rows_bytes': 4 * heads * length * depth,
           'logits_bytes': 4 * heads * length * length}
    for form in ('skewed', 'naive'):
      row[f'{form}_peak_bytes'] = _child(form, length, heads, depth)['peak_bytes']
    row['memory_ratio'] = round(row['naive_peak_bytes']
                                / max(row['skewed_peak_bytes'], 1), 2)
    results['runs'].append(row)
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'relative attention logits, {heads} heads x {depth}, forward + backward, '
        f'on {results["device"]} (forms differ by at most '
        f'{results["max_abs_difference"]:.2g})')
  print(f'{"length":>7}{"skewed MiB":>12}{"naive MiB":>12}{"ratio":>8}')
  for r in results['runs']:
    print(f'{r["length"]:>7}{r["skewed_peak_bytes"] / MIB:>12.1f}'
          f'{r["naive_peak_bytes"] / MIB:>12.1f}{r["memory_ratio"]:>8}')


if __name__ == '__main__':
  app.run(main)
