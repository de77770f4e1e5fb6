"""Training records in the orders the benchmarks compare (no flags: a
library for mixing_benchmark.py).

  sources   each source's examples together, sources in a random order: what
            musicrnn_create_dataset wrote before issue 16;
  project   the dataset as musicrnn_create_dataset writes it;
  shuffled  one global random permutation of the records.
"""

import json
import os
import shutil

import numpy as np
import tensorflow as tf

from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources

ORDERS = ('sources', 'project', 'shuffled')


def read_train_records(data):
  """[(source id, example id, serialized)] of the train split, as stored."""
  out = []
  for path in sources.open_source(data).files('train'):
    for record in tf.data.TFRecordDataset(path):
      raw = record.numpy()
      context = tf.train.SequenceExample.FromString(raw).context.feature
      out.append((context[schema.ID].bytes_list.value[0],
                  context[schema.EXAMPLE_ID].bytes_list.value[0], raw))
  return out


def reordered_copy(data, records, folder):
  """A copy of dataset `data` whose train split is `records` in one shard."""
  os.makedirs(folder)
  description = description_lib.read_description(data)
  name = 'train.tfrecord-00000-of-00001'
  with tf.io.TFRecordWriter(os.path.join(folder, name)) as writer:
    for _, _, raw in records:
      writer.write(raw)
  for eval_file in description['splits']['eval']['files']:
    shutil.copyfile(os.path.join(data, eval_file), os.path.join(folder, eval_file))
  description['splits']['train']['files'] = [name]
  with open(os.path.join(folder, description_lib.DATASET_JSON), 'w') as f:
    json.dump(description, f, indent=2)
  return folder


def order(records, kind, seed):
  rng = np.random.default_rng(seed)
  if kind == 'shuffled':
    return [records[i] for i in rng.permutation(len(records))]
  # 'sources': each source's examples together, in the order they are made.
  by_source = {}
  for record in sorted(records, key=lambda r: r[1]):
    by_source.setdefault(record[0], []).append(record)
  ids = sorted(by_source)
  return [r for i in rng.permutation(len(ids)) for r in by_source[ids[i]]]
