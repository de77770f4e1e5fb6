r"""Benchmark: how well the training stream mixes sources, and what it buys.

  python benchmarks/mixing_benchmark.py --dataset=/tmp/asap140_pwd \
    --hparams='rnn_layer_sizes=[128,128],batch_size=16,learning_rate=3e-3' \
    --steps=1500 --seed=1 --output_json=/tmp/mixing.json

Trains one model, same config, seed and steps, on the same train records in
three orders, each read by musicrnn's reader (interleaved shards, seeded
10,000-example shuffle buffer) and evaluated on the same eval split:

  sources   each source's examples together, sources in a random order: what
            musicrnn_create_dataset wrote before issue 16 (one shard);
  project   the dataset as musicrnn_create_dataset writes it now;
  shuffled  the records in one global random permutation (the baseline: a
            perfect mix).

and reports, per order, the eval NLL (nats/event) and the distinct sources
among the first 10,000 training examples read (`--window`). `--dataset` is a
musicrnn_create_dataset folder; its config (from dataset.json) is the model's,
with `--hparams` for the model and training. `--smoke` runs a tiny config on
the bundled corpus (the tests run it).
"""

import json
import os
import shutil
import tempfile
import time

from absl import app
from absl import flags
import ml_collections

import data_orders
import smoke_data
from musicrnn import configs
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources
from musicrnn.training import trainer

flags.DEFINE_string('dataset', None, 'A musicrnn_create_dataset folder.')
flags.DEFINE_string('hparams', '', 'Model and training overrides.')
flags.DEFINE_integer('steps', 1500, 'Training steps per order.')
flags.DEFINE_integer('seed', 1, 'Seed of initialisation, data order and shuffles.')
flags.DEFINE_integer('window', 10_000, 'Examples read to count distinct sources.')
flags.DEFINE_integer('eval_max_batches', None, 'Cap on eval batches.')
flags.DEFINE_list('orders', ['sources', 'project', 'shuffled'], 'Orders to train on.')
flags.DEFINE_string('work_dir', None, 'Where the reordered copies and runs go '
                    '(default: a temporary folder, removed).')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_bool('smoke', False, 'A tiny config on the bundled corpus (tests).')
FLAGS = flags.FLAGS

def distinct_sources(data, window, seed):
  """Distinct sources among the first `window` examples the trainer's reader
  gives (its shuffle buffer and seed)."""
  records = sources.open_source(data).records('train', shuffle=True, repeat=True,
                                              seed=seed)
  return len({r[schema.ID].numpy() for r in records.take(window)})


def main(argv):
  del argv
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix='mixing_')
  os.makedirs(work, exist_ok=True)
  try:
    data = (smoke_data.corpus_dataset(work, 'performance_with_dynamics_tiny')
            if FLAGS.smoke else FLAGS.dataset)
    if not data:
      raise app.UsageError('--dataset is required (or --smoke)')
    steps = 6 if FLAGS.smoke else FLAGS.steps
    window = 200 if FLAGS.smoke else FLAGS.window
    description = description_lib.read_description(data)
    config = ml_collections.ConfigDict(description['config'])
    configs.apply_overrides(config, hparams=FLAGS.hparams)
    records = data_orders.read_train_records(data)
    results = {'dataset': os.path.abspath(data), 'config': config.name,
               'hparams': FLAGS.hparams, 'steps': steps, 'seed': FLAGS.seed,
               'train_examples': len(records),
               'train_sources': len({r[0] for r in records}),
               'window': window, 'orders': {}}
    for kind in FLAGS.orders:
      if kind not in data_orders.ORDERS:
        raise app.UsageError(f'--orders: {kind!r} is not one of {", ".join(data_orders.ORDERS)}')
      folder = data if kind == 'project' else data_orders.reordered_copy(
          data, data_orders.order(records, kind, FLAGS.seed), os.path.join(work, kind))
      distinct = distinct_sources(folder, window, FLAGS.seed)
      start = time.time()
      summary = trainer.train(config, folder, os.path.join(work, f'run_{kind}'),
                              num_steps=steps, seed=FLAGS.seed,
                              eval_every=steps, checkpoint_every=steps,
                              log_every=max(steps // 10, 1),
                              eval_max_batches=FLAGS.eval_max_batches,
                              progress=False)
      final = summary.evals[-1]
      results['orders'][kind] = {
          'eval_nll': final['nll'], 'eval_events': final['events'],
          'distinct_sources_in_window': distinct,
          'train_loss_last': summary.history[-1]['loss'],
          'seconds': round(time.time() - start, 1)}
      print(f'{kind:9s} eval NLL {final["nll"]:.4f} nats/event; '
            f'{distinct} distinct sources in the first {window} examples read',
            flush=True)
    orders = results['orders']
    if 'project' in orders and 'shuffled' in orders:
      results['project_minus_shuffled_nll'] = (orders['project']['eval_nll']
                                               - orders['shuffled']['eval_nll'])
    if FLAGS.output_json:
      with open(FLAGS.output_json, 'w') as f:
        json.dump(results, f, indent=2)
  finally:
    if not FLAGS.work_dir:
      shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
  app.run(main)
