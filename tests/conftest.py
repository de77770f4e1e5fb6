"""pytest configuration: tests import `testing_lib` from this folder."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Keep TensorFlow's C++ start-up chatter out of test logs.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


import pytest  # noqa: E402


@pytest.fixture(scope='session')
def tiny_datasets(tmp_path_factory):
  """Tiny datasets of the bundled corpus, by config name."""
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.pipelines import convert
  from musicrnn.pipelines import dataset
  import testing_lib
  corpus = os.path.join(testing_lib.REPO_ROOT, 'musicrnn', 'quickstart_corpus')
  ns = str(tmp_path_factory.mktemp('ns') / 'ns.tfrecord')
  convert.convert_directory(corpus, ns)
  out = {}
  # music_transformer_tiny's data (whole pieces for random crops) serves
  # dilated_cnn_tiny too: the same encoding and data settings.
  for name in ('performance_with_dynamics_tiny',
               'multiconditioned_performance_with_dynamics_tiny', 'polyphony_tiny',
               'music_transformer_tiny'):
    path = tmp_path_factory.mktemp(name)
    dataset.create_dataset(configs.get_config(name), ns, str(path), eval_ratio=0.25)
    out[name] = str(path)
  return out


@pytest.fixture(scope='session')
def tiny_runs(tiny_datasets, tmp_path_factory):
  """Briefly trained runs of the tiny performance configs, by config name."""
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.training import trainer
  out = {}
  for name in ('performance_with_dynamics_tiny',
               'multiconditioned_performance_with_dynamics_tiny'):
    config = configs.get_config(name)
    configs.apply_overrides(config, overrides={'train.learning_rate': 1e-2})
    run_dir = str(tmp_path_factory.mktemp(f'run_{name}'))
    trainer.train(config, tiny_datasets[name], run_dir, num_steps=40, seed=0,
                  eval_every=40, checkpoint_every=40, progress=False)
    out[name] = run_dir
  return out


@pytest.fixture(scope='session')
def gan_dataset(tmp_path_factory):
  """A tiny piano-roll dataset of the committed fixtures (the bundled
  piano-midi.de corpus changes tempo every beat, so it gives no 4-bar
  segments): about 170 train and 9 eval segments."""
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.pipelines import convert
  from musicrnn.pipelines import dataset
  import testing_lib
  ns = str(tmp_path_factory.mktemp('fixtures_ns') / 'ns.tfrecord')
  convert.convert_directory(testing_lib.TESTDATA, ns)
  path = tmp_path_factory.mktemp('pianoroll_gan_tiny')
  dataset.create_dataset(configs.get_config('pianoroll_gan_tiny'), ns, str(path),
                         eval_ratio=0.5)
  return str(path)
