"""Piano-roll LSTM configs: frames of 88 keys on a sixteenth-note grid.

  musicrnn_create_dataset --config=pianoroll_lstm_focal \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/frames_dataset
  musicrnn_train --config=pianoroll_lstm_focal --train_data=/tmp/frames_dataset \
    --run_dir=/tmp/frames_run

The model people built by hand before Magenta's event models: each frame is
every key's onset / held / off state (`musicrnn.encodings.frames`), an LSTM
stack (2x512, dropout) reads the frames and predicts each bit of the next
one with its own sigmoid. With 86 of 88 keys silent in most frames, plain
binary cross-entropy (`pianoroll_lstm`) learns to predict silence; focal
loss (`pianoroll_lstm_focal`, alpha 0.5 and gamma 2 as the reference
project) down-weights the bits it already predicts well.

Sequences are split at tempo and time-signature changes, quantized to 4
steps a quarter note, and cut into windows of 256 frames (16 bars of 4/4);
transposed by -3..+3 semitones for training (a time stretch does not change
a metric grid).

`frames_lstm` is the recurrent baseline of the 2012 polyphonic-music
benchmark (JSB Chorales), beside `tcn`: its frames (88 keys sounding or
not, a quarter note each, `key_frames`), whole pieces with no augmentation,
one layer of 200 LSTM units, dropout 0.3, binary cross-entropy, Adam at
1e-3. `--hparams=cell=gru` or `cell=rnn` gives the GRU and plain-RNN rows.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register

TINY = base.tiny_variant(model={'rnn_layer_sizes': (32, 32)},
                         data={'stretch_factors': (1.0,)})


def _pianoroll_lstm(loss):
  return base.make_config(
      family='pianoroll_lstm',
      encoding=base.encoding('frame_roll', steps_per_quarter=4, min_pitch=21,
                             max_pitch=108),
      model=ml_collections.ConfigDict({
          'cell': 'lstm', 'rnn_layer_sizes': (512, 512), 'dropout_rate': 0.3}),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            stretch_factors=(1.0,), min_events=32,
                            max_events=256),
      train=base.train_config(loss=loss,
                              focal_alpha=0.5, focal_gamma=2.0, batch_size=64,
                              learning_rate=1e-3))


@register('pianoroll_lstm', tiny=TINY)
def pianoroll_lstm():
  return _pianoroll_lstm('bce')


@register('pianoroll_lstm_focal', tiny=TINY)
def pianoroll_lstm_focal():
  return _pianoroll_lstm('focal')


@register('frames_lstm', tiny=base.tiny_variant(
    model={'rnn_layer_sizes': (32,)},
    data={'stretch_factors': (1.0,), 'transpositions': (0,)}))
def frames_lstm():
  return base.make_config(
      family='pianoroll_lstm',
      encoding=base.benchmark_frames(steps_per_quarter=1),
      # pitch_window > 0 adds the per-key network shared by all keys
      # (`PianorollLSTM`).
      model=ml_collections.ConfigDict({
          'cell': 'lstm', 'rnn_layer_sizes': (200,), 'dropout_rate': 0.3,
          'pitch_window': 0, 'head_units': 64}),
      data=base.whole_pieces(),
      train=base.train_config(loss='bce', focal_alpha=0.5, focal_gamma=2.0,
                              batch_size=16, learning_rate=1e-3))
