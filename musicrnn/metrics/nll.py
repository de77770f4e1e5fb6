"""A trained run scored on a dataset split: its objective's evaluation
(NLL for autoregressive models, the GAN's metrics for the GAN, loss and
onset F1 for frame models)."""

import json
import logging

from musicrnn.errors import UsageError
from musicrnn.metrics import evaluation as evaluation_lib
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import sources
from musicrnn.training import run_dir as run_dir_lib


def evaluate_run(run_dir, data=None, *, split='eval', batch_size=None,
                 max_batches=None, tfds_data_dir=None):
  """The metrics of a run's latest checkpoint on a split (NLL, perplexity
  and accuracy for an autoregressive model), also logged as one line.

  Args:
    run_dir: a run directory of musicrnn_train.
    data: the data to score, in any form `sources.open_source` takes
      (default: what the run was trained on).
    split: 'eval' or 'train'.
    batch_size: default the config's.
    max_batches: cap on batches (default: the whole split).
    tfds_data_dir: where tfds:NAME datasets live (default: TFDS's).

  Returns:
    dict with nll, perplexity, accuracy, events, batches, step, split,
    data_dir, config_name.
  """
  run = run_dir_lib.load_run(run_dir)
  data = data or run_dir_lib.dataset_dir(run_dir)
  if not data:
    raise UsageError(f'{run_dir} does not record its dataset; pass --data')
  source = sources.open_source(data, tfds_data_dir)
  # Any cut of the music scores a model (a transformer trained on random
  # crops, on an LSTM's 30 s chunks); what its controls mean may not differ.
  description_lib.check_encoding(run.config, source.description, source.location,
                         training=False)
  if not source.has_split(split):
    raise UsageError(f'{source.location} has no {split} data')
  built = source.description.get('config')
  if split != 'eval' and built and input_lib.crop_length(built):
    raise UsageError(
        f'the {split} split of {source.location} holds whole performances, '
        'which the trainer crops at random; score its eval split (fixed '
        'windows), or data built with long_sequences=split')
  metrics = evaluation_lib.evaluate_model(
      run.model, run.config, source, batch_size or run.config.train.batch_size,
      split=split, max_batches=max_batches)
  metrics.update(step=run.step, split=split,
                 data_dir=source.absolute_location(),
                 config_name=run.config.name)
  logging.info('musicrnn evaluate: %s at step %d, %s split: %s', run_dir,
               run.step, split, evaluation_lib.for_config(run.config).describe(metrics))
  return metrics


def to_json(metrics):
  return json.dumps(metrics, indent=2, sort_keys=True)
