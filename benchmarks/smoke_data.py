"""What the benchmarks share (a library: no flags): each model family's
config, tiny datasets for their --smoke runs, untrained models of a config
(a step costs the same trained or not), and results appended to a JSON
list."""

import json
import os

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
from musicrnn.tfrecords import sources
from musicrnn.tfrecords import description as description_lib
from musicrnn.training import trainer

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO_ROOT, 'tests', 'testdata')
CORPUS = os.path.join(REPO_ROOT, 'musicrnn', 'quickstart_corpus')

# The config each model family is measured with.
CONFIGS = {
    'event_lstm': 'performance_with_dynamics',
    'music_transformer': 'music_transformer',
    'dilated_cnn': 'dilated_cnn',
    'pianoroll_gan': 'pianoroll_gan',
    'music_vae': 'cat-mel_2bar_small',
    'music_vae_sampled': 'cat-mel_2bar_small',
}


def family_config(family, data, smoke, hparams=None):
  """The family's config (its tiny variant with `smoke`, else with `hparams`
  applied), with the data settings `data` was built with (a transformer
  measured on chunked performance data, say)."""
  config = configs.get_config(CONFIGS[family] + ('_tiny' if smoke else ''))
  if hparams and not smoke:
    configs.apply_overrides(config, hparams=hparams)
  configs.apply_overrides(config, overrides=description_lib.data_settings(
      sources.open_source(data).description))
  return config


def untrained_model(name, hparams=''):
  """(config, built model, codec) of config `name` with `hparams` applied,
  its weights untrained."""
  config = configs.get_config(name)
  configs.apply_overrides(config, hparams=hparams)
  codec = encodings.codec_from_config(config)
  return config, models.build_model(config, codec, []), codec


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


def fixture_frame_dataset(root):
  """A frame-roll dataset (pianoroll_lstm_tiny) of the committed fixtures,
  half of it eval, built in `root`."""
  notesequences = os.path.join(root, 'ns.tfrecord')
  convert.convert_directory(FIXTURES, notesequences)
  out = os.path.join(root, 'pianoroll_lstm_tiny')
  dataset.create_dataset(configs.get_config('pianoroll_lstm_tiny'), notesequences,
                         out, eval_ratio=0.5)
  return out


def corpus_dataset(root, config_name):
  """A dataset of the bundled quickstart corpus for `config_name` (a tiny
  config), built in `root`; a quarter of it eval."""
  notesequences = os.path.join(root, 'ns.tfrecord')
  convert.convert_directory(CORPUS, notesequences)
  out = os.path.join(root, 'dataset')
  dataset.create_dataset(configs.get_config(config_name), notesequences, out,
                         eval_ratio=0.25)
  return out


def trained_run(root, config_name, num_steps):
  """A run of `config_name` (a tiny config) trained `num_steps` steps at the
  tests' learning rate (1e-2) on `corpus_dataset`, in `root`; its folder."""
  config = configs.get_config(config_name)
  configs.apply_overrides(config, overrides={'train.learning_rate': 1e-2})
  run_dir = os.path.join(root, 'run')
  trainer.train(config, corpus_dataset(root, config_name), run_dir,
                num_steps=num_steps, seed=1, log_every=num_steps,
                eval_every=num_steps, checkpoint_every=num_steps,
                progress=False)
  return run_dir


def append_result(path, result):
  """Appends `result` to the JSON list in `path` (made if missing)."""
  results = []
  if os.path.exists(path):
    with open(path) as f:
      results = json.load(f)
  results.append(result)
  with open(path, 'w') as f:
    json.dump(results, f, indent=2)
