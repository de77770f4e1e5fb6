"""Polyphony RNN config: the event LSTM on polyphony events.

  musicrnn_create_dataset --config=polyphony \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/poly_dataset

Magenta's Polyphony RNN: 3x256 LSTM, 4 steps per quarter note, sequences
split at tempo and time-signature changes, 80..512 events.
"""

from musicrnn.configs import base
from musicrnn.configs.performance import event_lstm_model
from musicrnn.configs.registry import register


def _tiny(config):
  config.model.rnn_layer_sizes = (32, 32)
  base.shrink_data(config)


@register('polyphony', tiny=_tiny)
def polyphony():
  return base.make_config(
      family='event_lstm',
      encoding=base.encoding('polyphony', steps_per_quarter=4),
      model=event_lstm_model(rnn_layer_sizes=(256, 256, 256)),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            min_events=80, max_events=512, sustain=False,
                            stretch_factors=(1.0,)))
