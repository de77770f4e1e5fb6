"""Polyphony RNN config: the event LSTM on polyphony events.

  musicrnn_create_dataset --config=polyphony \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/poly_dataset

Magenta's Polyphony RNN (magenta/models/polyphony_rnn): a 3x256 LSTM with
dropout (keep probability 0.5), batch 64, learning rate 1e-3, gradients
clipped at global norm 5; 4 steps per quarter note; sequences split at tempo
and time-signature changes, and kept when they span 80 to 512 quantized
steps (longer ones discarded, as Magenta's extractor does); transposed by
-4..+4 semitones.

Where musicrnn differs on purpose: Magenta's pipeline transposes the eval
split too; musicrnn augments train only (as every musicrnn config), so eval
NLL is measured on the music as written and one eval example is not counted
nine times.
"""

from musicrnn.configs import base
from musicrnn.configs.performance import TINY_EVENT_LSTM
from musicrnn.configs.performance import event_lstm_model
from musicrnn.configs.registry import register


@register('polyphony', tiny=TINY_EVENT_LSTM)
def polyphony():
  return base.make_config(
      family='event_lstm',
      encoding=base.encoding('polyphony', steps_per_quarter=4),
      model=event_lstm_model(rnn_layer_sizes=(256, 256, 256), dropout_rate=0.5),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            length_unit='steps', min_events=80, max_events=512,
                            long_sequences='discard', sustain=False,
                            stretch_factors=(1.0,),
                            transpositions=tuple(range(-4, 5))),
      train=base.train_config(batch_size=64, learning_rate=1e-3, clip_norm=5.0))


@register('frame_events_lstm', tiny=TINY_EVENT_LSTM)
def frame_events_lstm():
  """The event LSTM over the 2012 benchmark's frames spelt out key by key
  (`frame_events`: each frame's sounding keys, lowest first, then
  FRAME_END): a joint model of a frame, scored exactly per frame.

    musicrnn_create_dataset --config=frame_events_lstm \\
      --input=JSB_Chorales.mat --output_dir=/tmp/jsb_events

  A quarter note per frame (JSB Chorales' grid), pieces kept whole, no
  augmentation.
  """
  return base.make_config(
      family='event_lstm',
      encoding=base.encoding('frame_events', steps_per_quarter=1,
                             min_pitch=21, max_pitch=108),
      model=event_lstm_model(rnn_layer_sizes=(256,), dropout_rate=0.3),
      data=base.whole_pieces(),
      train=base.train_config(batch_size=8, learning_rate=2e-3, clip_norm=5.0))
