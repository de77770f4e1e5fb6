"""Named configs, their tiny variants, and overrides."""

import json

import pytest

from musicrnn import configs
from musicrnn.encodings import codec as codec_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import dataset

DESIGN_NAMES = [
    'performance', 'performance_with_dynamics',
    'performance_with_dynamics_and_modulo_encoding',
    'density_conditioned_performance_with_dynamics',
    'pitch_conditioned_performance_with_dynamics',
    'multiconditioned_performance_with_dynamics', 'polyphony',
    'music_transformer', 'dilated_cnn', 'pianoroll_gan', 'pianoroll_lstm',
    'pianoroll_lstm_focal', 'note_lstm', 'tcn', 'tcn_nottingham',
    'frames_lstm', 'rnn-nade', 'rnn-nade_attn']


def test_every_design_config_and_its_tiny_variant_exist():
  names = configs.names()
  for name in DESIGN_NAMES:
    assert name in names and f'{name}_tiny' in names


@pytest.mark.parametrize('name', DESIGN_NAMES)
def test_configs_bind_encoding_family_and_hparams(name):
  config = configs.get_config(name)
  tiny = configs.get_config(f'{name}_tiny')
  assert config.name == name and tiny.name == f'{name}_tiny'
  codec = dataset.make_codec(config)
  assert codec.vocab_size > 0
  assert codec_lib.codec_from_spec(codec.spec()).spec() == codec.spec()
  assert config.family in ('event_lstm', 'music_transformer', 'dilated_cnn',
                           'pianoroll_gan', 'pianoroll_lstm', 'note_lstm',
                           'tcn', 'rnn_nade')
  assert json.loads(configs.to_json(config))['name'] == name
  assert tiny.train.batch_size <= config.train.batch_size


def test_magenta_defaults():
  config = configs.get_config('performance_with_dynamics')
  assert tuple(config.model.rnn_layer_sizes) == (512, 512, 512)
  assert config.train.batch_size == 64
  assert config.train.learning_rate == 1e-3
  assert config.train.clip_norm == 3.0
  assert config.encoding.settings.steps_per_second == 100
  assert config.encoding.settings.num_velocity_bins == 32
  assert tuple(config.data.stretch_factors) == (0.95, 0.975, 1.0, 1.025, 1.05)
  assert tuple(config.data.transpositions) == tuple(range(-3, 4))
  assert configs.get_config('performance').encoding.settings.num_velocity_bins == 0
  multi = configs.get_config('multiconditioned_performance_with_dynamics')
  assert multi.controls.note_density and multi.controls.pitch_histogram
  assert tuple(configs.get_config('polyphony').model.rnn_layer_sizes) == (256,) * 3


def test_polyphony_config_is_magentas():
  """Magenta's polyphony_rnn: dropout keep 0.5, clip norm 5, batch 64, lr 1e-3;
  80..512 quantized steps, longer sequences discarded; transposed -4..+4."""
  config = configs.get_config('polyphony')
  assert config.model.dropout_rate == 0.5
  assert config.train.clip_norm == 5.0
  assert config.train.batch_size == 64
  assert config.train.learning_rate == 1e-3
  assert config.data.length_unit == 'steps'
  assert (config.data.min_events, config.data.max_events) == (80, 512)
  assert config.data.long_sequences == 'discard'
  assert tuple(config.data.transpositions) == tuple(range(-4, 5))
  assert tuple(config.data.stretch_factors) == (1.0,)
  assert config.encoding.settings.steps_per_quarter == 4


def test_unknown_config_lists_valid_names():
  with pytest.raises(UsageError) as info:
    configs.get_config('performace')
  message = str(info.value)
  assert "did you mean 'performance'" in message
  for name in DESIGN_NAMES:
    assert name in message


def test_hparams_and_dotted_overrides():
  config = configs.get_config('performance_with_dynamics')
  configs.apply_overrides(
      config, hparams='batch_size=32,rnn_layer_sizes=[256,256],cell=gru',
      overrides={'data.min_events': '16', 'model.dropout_rate': 0.5})
  assert config.train.batch_size == 32
  assert tuple(config.model.rnn_layer_sizes) == (256, 256)
  assert config.model.cell == 'gru'
  assert config.data.min_events == 16
  assert config.model.dropout_rate == 0.5


@pytest.mark.parametrize('hparams, message', [
    ('batchsize=3', "did you mean 'batch_size'"),
    ('batch_size=[3]', 'train.batch_size'),
    ('batch_size', 'not name=value'),
])
def test_bad_hparams_are_clear_errors(hparams, message):
  with pytest.raises(UsageError, match=message.replace('[', r'\[')):
    configs.apply_overrides(configs.get_config('performance'), hparams=hparams)
