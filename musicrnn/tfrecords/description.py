"""dataset.json: the small description a dataset folder carries of itself.

Written last by musicrnn_create_dataset (its presence means the dataset is
complete); read by the trainer and by tf.data input. Fields: format_version,
config_name, encoding (codec spec), sequence_features, config (resolved),
eval_ratio, input, and per split: files, examples, events, notesequences.
"""

import json
import os

from musicrnn.errors import UsageError

DATASET_JSON = 'dataset.json'
STATS_JSON = 'stats.json'
FORMAT_VERSION = 1


def read_description(dataset_dir):
  """The parsed dataset.json of `dataset_dir` (local or gs://, via tf.io.gfile).

  Raises:
    UsageError: the folder holds no (complete) musicrnn dataset.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  path = os.path.join(dataset_dir, DATASET_JSON)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{dataset_dir} is not a musicrnn dataset (no {DATASET_JSON}; '
                     'build one with musicrnn_create_dataset)')
  with tf.io.gfile.GFile(path) as f:
    try:
      description = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise UsageError(f'{path} is not valid JSON: {e}') from e
  if not isinstance(description, dict):
    raise UsageError(f'{path} is not a dataset description (a JSON object)')
  if description.get('format_version') != FORMAT_VERSION:
    raise UsageError(f'{path} has format_version '
                     f'{description.get("format_version")!r}; this musicrnn reads '
                     f'{FORMAT_VERSION}')
  return description
