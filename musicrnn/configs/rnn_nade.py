"""Pianoroll RNN-NADE configs, under Magenta's names: `rnn-nade` and
`rnn-nade_attn`.

  musicrnn_create_dataset --config=rnn-nade \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/nade_dataset
  musicrnn_train --config=rnn-nade --train_data=/tmp/nade_dataset \
    --run_dir=/tmp/nade_run

Magenta's Pianoroll RNN-NADE (magenta/models/pianoroll_rnn_nade): frames of
88 keys from A0 (MIDI 21), each sounding or not, on a grid of 4 steps a
quarter note (`key_frames`, Magenta's PianorollEncoderDecoder); an LSTM
stack reads them and sets the biases of a NADE over the next frame
(`musicrnn.models.rnn_nade`), trained on the exact NLL of each frame
(task 'joint_frames').

  rnn-nade       3x128 LSTM, NADE of 128 hidden units, dropout keep
                 probability 0.5, batch 64, learning rate 1e-3, gradients
                 clipped at global norm 5
  rnn-nade_attn  2x128 LSTM, the first with attention over its last 32
                 outputs (Magenta's AttentionCellWrapper), batch 48,
                 otherwise the same

Data as Magenta's pipeline: sequences split at tempo and time-signature
changes, no sustain pedal, transposed by -4..+4 semitones, pieces shorter
than 80 frames (5 bars) dropped. Where musicrnn differs on purpose:
the transpositions are train-only (as every musicrnn config), and long
sequences are split into windows of 256 frames (as the piano-roll LSTM's)
rather than truncated at 2048 steps: no music is thrown away, and a batch's
NADE activations ([batch, 256, 88 keys, 128 hidden]) stay bounded.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


def _tiny(attn_length):
  return base.tiny_variant(
      model={'rnn_layer_sizes': (24, 24), 'nade_hidden_units': 16,
             'attn_length': attn_length},
      data={'stretch_factors': (1.0,)})


def _rnn_nade(rnn_layer_sizes, attn_length, batch_size):
  return base.make_config(
      family='rnn_nade',
      encoding=base.encoding('key_frames', steps_per_quarter=4, min_pitch=21,
                             max_pitch=108),
      model=ml_collections.ConfigDict({
          'cell': 'lstm', 'rnn_layer_sizes': rnn_layer_sizes,
          'nade_hidden_units': 128, 'dropout_rate': 0.5,
          'attn_length': attn_length}),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            sustain=False, stretch_factors=(1.0,),
                            transpositions=tuple(range(-4, 5)),
                            min_events=80, max_events=256),
      train=base.train_config(batch_size=batch_size, learning_rate=1e-3,
                              clip_norm=5.0))


@register('rnn-nade', tiny=_tiny(0))
def rnn_nade():
  return _rnn_nade((128, 128, 128), 0, 64)


@register('rnn-nade_attn', tiny=_tiny(4))
def rnn_nade_attn():
  return _rnn_nade((128, 128), 32, 48)
