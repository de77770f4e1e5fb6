"""Performance RNN configs: the event LSTM on performance events.

  musicrnn_create_dataset --config=performance_with_dynamics \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/perf_dataset

Magenta's defaults: 3x512 LSTM, batch 64, lr 1e-3, clip norm 3, 100 steps/s,
time shifts up to 1 s, 32 velocity bins for the "with dynamics" configs,
stretch 0.95-1.05 and transposition +-3 on train data, 30 s chunks, 32..512
events.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


def event_lstm_model(**overrides):
  config = ml_collections.ConfigDict({
      'cell': 'lstm',                    # 'lstm', 'gru' or 'rnn' (plain)
      'rnn_layer_sizes': (512, 512, 512),
      'dropout_rate': 0.0,
      'embedding_size': 0,               # 0: one-hot inputs, as Magenta
  })
  config.update(overrides)
  return config


def _performance(num_velocity_bins, *controls, **model):
  return base.make_config(
      family='event_lstm',
      encoding=base.encoding('performance', steps_per_second=100,
                             max_shift_steps=100,
                             num_velocity_bins=num_velocity_bins),
      model=event_lstm_model(**model),
      controls=base.controls_config(*controls))


# Also the polyphony config's: the same event LSTM.
TINY_EVENT_LSTM = base.tiny_variant(model={'rnn_layer_sizes': (32, 32)})


@register('performance', tiny=TINY_EVENT_LSTM)
def performance():
  return _performance(num_velocity_bins=0)


@register('performance_with_dynamics', tiny=TINY_EVENT_LSTM)
def performance_with_dynamics():
  return _performance(num_velocity_bins=32)


@register('performance_with_dynamics_and_modulo_encoding', tiny=TINY_EVENT_LSTM)
def performance_with_dynamics_and_modulo_encoding():
  """Magenta's modulo config: each event read as 16 numbers (`PerformanceCodec
  .input_vectors('modulo')`: pitch and pitch class, time shift and velocity
  each a point on a circle) rather than one of 388; same data, same labels."""
  # event_inputs: the encoding's fixed vectors rather than one-hot events.
  return _performance(32, event_inputs='modulo')


@register('density_conditioned_performance_with_dynamics', tiny=TINY_EVENT_LSTM)
def density_conditioned_performance_with_dynamics():
  return _performance(32, 'note_density')


@register('pitch_conditioned_performance_with_dynamics', tiny=TINY_EVENT_LSTM)
def pitch_conditioned_performance_with_dynamics():
  return _performance(32, 'pitch_histogram')


@register('multiconditioned_performance_with_dynamics', tiny=TINY_EVENT_LSTM)
def multiconditioned_performance_with_dynamics():
  return _performance(32, 'note_density', 'pitch_histogram')
