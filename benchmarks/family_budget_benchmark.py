r"""Benchmark: eval NLL of a model family after a fixed CPU budget.

  python benchmarks/family_budget_benchmark.py --config=music_transformer \
    --dataset=/tmp/asap_mt --budget_cpu_seconds=1200 --label=after \
    --hparams='num_layers=3,num_heads=4,model_dim=128,feed_forward_dim=512,max_relative_distance=512,batch_size=8' \
    --output_json=/tmp/budget.json

Runs `musicrnn_train` as a user would, in its own process, and stops it once
it has used `--budget_cpu_seconds` of CPU time (all its threads, user and
system) after its first line, so start-up is not counted and runs that share
the machine with other work still get the same compute. The last
checkpoint (every `--checkpoint_every` steps) is kept: a stopped run loses
nothing before it. The run is then scored
on `--eval_data`'s eval split (default `--dataset`'s) (`evaluate_lib.evaluate_run`:
fixed windows, so every run is scored on the same events). Reports eval NLL
(nats/event), steps reached, the trainer's last events/s, and the mean
length of a training example as the model sees it (a crop config's random
windows: min(length, max_events)). `--reorder=sources` first rewrites the
train split in the order musicrnn_create_dataset wrote before issue 16 (each
source's examples together), for a before/after comparison. Results are
appended to `--output_json` (a JSON list), one entry per call.
With `--samples=N`, the run then generates N files of `--sample_seconds`
(seed 1) and reports their musical metrics against the eval split
(`musicrnn_evaluate --samples_dir`: histogram distances, and the mean of
each scalar for the samples and the reference).
`--smoke` runs the tiny transformer on the bundled corpus for a few seconds.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

import data_orders
import smoke_data
from musicrnn import configs
from musicrnn.metrics import music
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources

flags.DEFINE_string('config', None, 'Config name (the model family).')
flags.DEFINE_string('dataset', None, 'A musicrnn_create_dataset folder built '
                    'for the config (its data settings are used).')
flags.DEFINE_string('hparams', '', 'Overrides of the config, the data values '
                    'the dataset was built with included.')
flags.DEFINE_integer('budget_cpu_seconds', 1200, 'CPU time of training (all '
                     'threads of the training process).')
flags.DEFINE_string('eval_data', None, 'The dataset whose eval split scores the '
                    'run (default: --dataset), so runs trained on data cut '
                    'differently are scored on the same events.')
flags.DEFINE_integer('checkpoint_every', 10, 'Steps between checkpoints (the '
                     'run is scored at the last one before the budget ran out).')
flags.DEFINE_list('train_flags', [], 'More musicrnn_train flags, e.g. '
                  '--train_flags=--jit_compile=off (as before XLA).')
flags.DEFINE_integer('seed', 1, 'Training seed.')
flags.DEFINE_enum('reorder', None, ['sources', 'shuffled'],
                  'Train on a reordered copy of the train split.')
flags.DEFINE_string('label', '', 'A name for this run in the results.')
flags.DEFINE_string('work_dir', None, 'Where runs (and copies) go (default: '
                    'a temporary folder).')
flags.DEFINE_integer('eval_max_batches', None, 'Cap on eval batches.')
flags.DEFINE_string('output_json', None, 'JSON list the result is appended to.')
flags.DEFINE_integer('samples', 0, 'Files to generate after training and '
                     'score with the musical metrics (0: none).')
flags.DEFINE_float('sample_seconds', 30.0, 'Length of each generated file.')
flags.DEFINE_bool('smoke', False, 'Tiny transformer on the bundled corpus.')
FLAGS = flags.FLAGS

_EVENTS_PER_SECOND = re.compile(r'(\d+) (?:events|onsets)/s')


def mean_training_length(data, config, limit=5000):
  """Mean tokens per training example as the model sees it."""
  crop = input_lib.crop_length(config)
  records = sources.open_source(data).records('train', shuffle=False, repeat=False)
  lengths = np.array([int(r[schema.LENGTH]) for r in records.take(limit)])
  if crop:
    lengths = np.minimum(lengths, crop)
  return float(lengths.mean())


def sample_metrics(run_dir, folder, num_outputs, seconds):
  """Generates `num_outputs` files of `seconds` from the run (seed 1) into
  `folder`; returns their musical metrics against the eval split, in short:
  each histogram's distance and each scalar's mean, samples / reference."""
  generate.generate(run_dir, folder, num_outputs=num_outputs,
                    duration_seconds=seconds, seed=1)
  report = evaluate_lib.evaluate_samples(folder, run_dir=run_dir)
  short = {name: round(report[name]['distance'], 4) for name in music.HISTOGRAMS}
  for name in music.SCALARS:
    short[name] = [round(report[name][side]['mean'], 3)
                   for side in ('generated', 'reference')]
  return short


def cpu_seconds(pid):
  """CPU time (user + system, all threads) process `pid` has used (Linux)."""
  with open(f'/proc/{pid}/stat') as f:
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = f.read().rsplit(')', 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def train_for(config_name, data, run_dir, hparams, budget, seed,
              checkpoint_every, log_path, train_flags=()):
  """musicrnn_train in a process, stopped after `budget` CPU seconds from its
  first line; returns (its last events/s, CPU seconds it trained)."""
  command = [sys.executable, '-m', 'musicrnn.train', f'--config={config_name}',
             f'--train_data={data}', f'--run_dir={run_dir}', '--num_steps=10000000',
             f'--checkpoint_every={checkpoint_every}', '--eval_every=10000000',
             f'--log_every={checkpoint_every}', f'--seed={seed}',
             f'--hparams={hparams}', *train_flags]
  used = None
  with open(log_path, 'w') as log:
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    start = None
    while process.poll() is None:
      if start is None:
        with open(log_path) as f:
          if 'musicrnn train: config' in f.read():
            start = cpu_seconds(process.pid)
      elif cpu_seconds(process.pid) - start >= budget:
        used = cpu_seconds(process.pid) - start
        process.send_signal(signal.SIGINT)
        try:
          process.wait(timeout=120)
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
        break
      time.sleep(0.5)
  with open(log_path) as log:
    text = log.read()
  if used is None:
    raise RuntimeError(f'musicrnn_train stopped before its budget; see {log_path}:\n'
                       + text[-2000:])
  speeds = _EVENTS_PER_SECOND.findall(text)
  return (int(speeds[-1]) if speeds else None), used


def main(argv):
  del argv
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix='budget_')
  os.makedirs(work, exist_ok=True)
  config_name = 'music_transformer_tiny' if FLAGS.smoke else FLAGS.config
  data = (smoke_data.corpus_dataset(work, config_name) if FLAGS.smoke
          else FLAGS.dataset)
  budget = 20 if FLAGS.smoke else FLAGS.budget_cpu_seconds
  if not data or not config_name:
    raise app.UsageError('--config and --dataset are required (or --smoke)')
  # The family's config with the data's cut (the trainer needs them equal)
  # and the overrides: what musicrnn_train will train.
  config = configs.get_config(config_name)
  configs.apply_overrides(config, hparams=FLAGS.hparams)
  label = FLAGS.label or config_name
  if FLAGS.reorder:
    records = data_orders.read_train_records(data)
    data = data_orders.reordered_copy(
        data, data_orders.order(records, FLAGS.reorder, FLAGS.seed),
        os.path.join(work, f'{label}_{FLAGS.reorder}'))
  run_dir = os.path.join(work, f'run_{label}')
  start = time.time()
  events_per_second, used = train_for(
      config_name, data, run_dir, FLAGS.hparams, budget, FLAGS.seed,
      5 if FLAGS.smoke else FLAGS.checkpoint_every,
      os.path.join(work, f'{label}.log'), FLAGS.train_flags)
  eval_data = FLAGS.eval_data or data
  metrics = evaluate_lib.evaluate_run(run_dir, eval_data, max_batches=FLAGS.eval_max_batches)
  result = {'label': label, 'config': config_name, 'hparams': FLAGS.hparams,
            'dataset': os.path.abspath(data), 'reorder': FLAGS.reorder,
            'train_flags': FLAGS.train_flags,
            'eval_dataset': os.path.abspath(eval_data),
            'budget_cpu_seconds': budget, 'cpu_seconds_used': round(used, 1),
            'wall_seconds': round(time.time() - start, 1),
            'step': metrics['step'], 'eval_nll': metrics['nll'],
            'eval_metrics': {k: v for k, v in metrics.items()
                             if k.startswith(('nll_', 'accuracy'))},
            'eval_events': metrics['events'],
            'events_per_second': events_per_second,
            'mean_training_length': mean_training_length(data, config)}
  if FLAGS.samples:
    result['samples'] = sample_metrics(run_dir, os.path.join(work, f'samples_{label}'),
                                       FLAGS.samples, FLAGS.sample_seconds)
  print(json.dumps(result))
  if FLAGS.output_json:
    smoke_data.append_result(FLAGS.output_json, result)


if __name__ == '__main__':
  app.run(main)
