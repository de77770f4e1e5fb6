"""Tiny datasets of the committed fixtures for the benchmarks' --smoke runs
(a library: no flags)."""

import os

from musicrnn import configs
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'tests', 'testdata')


def fixture_datasets(root):
  """(performance dataset, piano-roll dataset) of the tiny configs, built in
  `root` from the committed fixtures."""
  notesequences = os.path.join(root, 'ns.tfrecord')
  convert.convert_directory(FIXTURES, notesequences)
  out = []
  for name in ('performance_with_dynamics_tiny', 'pianoroll_gan_tiny'):
    path = os.path.join(root, name)
    dataset.create_dataset(configs.get_config(name), notesequences, path,
                           eval_ratio=0.5)
    out.append(path)
  return out
