"""Negative log-likelihood of a trained run on a dataset split."""

import json
import os

from musicrnn.errors import UsageError
from musicrnn.tfrecords import description as description_lib
from musicrnn.training import run_dir as run_dir_lib
from musicrnn.training import trainer


def evaluate_run(run_dir, data_dir=None, *, split='eval', batch_size=None,
                 max_batches=None):
  """NLL (nats per event), perplexity and accuracy of a run's latest checkpoint.

  Args:
    run_dir: a run directory of musicrnn_train.
    data_dir: dataset folder (default: the one the run was trained on).
    split: 'eval' or 'train'.
    batch_size: default the config's.
    max_batches: cap on batches (default: the whole split).

  Returns:
    dict with nll, perplexity, accuracy, events, batches, step, split,
    data_dir, config_name.
  """
  run = run_dir_lib.load_run(run_dir)
  data_dir = data_dir or run_dir_lib.dataset_dir(run_dir)
  if not data_dir:
    raise UsageError(f'{run_dir} does not record its dataset; pass --data')
  description = description_lib.read_description(data_dir)
  trainer.check_encoding(run.config, description, data_dir)
  if split not in description['splits'] or not description['splits'][split]['files']:
    raise UsageError(f'{data_dir} has no {split} data')
  metrics = trainer.evaluate_model(
      run.model, data_dir, batch_size or run.config.train.batch_size,
      split=split, description=description, max_batches=max_batches)
  metrics.update(step=run.step, split=split, data_dir=os.path.abspath(data_dir),
                 config_name=run.config.name)
  return metrics


def to_json(metrics):
  return json.dumps(metrics, indent=2, sort_keys=True)
