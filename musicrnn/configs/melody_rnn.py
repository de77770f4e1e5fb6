"""Melody, Drums and Improv RNN configs: Magenta's event-sequence RNN
(`models/event_sequence_rnn.py`) on melodies, drum tracks and lead sheets,
under Magenta's config names.

  musicrnn_create_dataset --config=lookback_rnn \\
    --input=path/to/midi --output_dir=/tmp/melodies
  musicrnn_train --config=lookback_rnn --train_data=/tmp/melodies \\
    --run_dir=/tmp/lookback

Magenta's settings (melody_rnn_model.py, drums_rnn_model.py):

  basic_rnn       one-hot melody events, MIDI 48-83        2x128
  mono_rnn        the same over every MIDI pitch           2x128
  lookback_rnn    lookback inputs and labels (16, 32)      2x128
  attention_rnn   KeyMelody inputs, attention over 40      2x128
  drum_kit_rnn    nine drum classes, 6 counter bits,       3x256
                  attention over 32 (Magenta's `drum_kit`)
  basic_improv    triad chord one-hot, one-hot melody      2x64
  attention_improv  triad chords, KeyMelody inputs,        3x128
                  attention over 40
  chord_pitches_improv  chord pitches, one-hot melody      3x256

each with dropout 0.5 (keep probability 0.5), batch 128, learning rate
1e-3, gradients clipped at norm 5 (attention_rnn and drum_kit 3), 4 steps
per quarter note; data as Magenta's extractors read it (`extraction`: at
least 7 bars, cut at 512 steps, a bar of silence ends a track; a melody
needs 5 distinct pitches, and a note of an instrument playing two at once
drops the rest of it). Improv RNN's lead sheets keep the melody's key and
are taken in all twelve keys (train and eval, as Magenta's pipeline), need
3 distinct pitches and a chord (note-seq's chord inference where the file
has no chord symbols), and the model reads the chord under the event it
predicts before the melody's input.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register

MELODY_EXTRACTION = dict(min_bars=7, max_steps=512, gap_bars=1.0,
                         min_unique_pitches=5, ignore_polyphonic_notes=False)
DRUMS_EXTRACTION = dict(min_bars=7, max_steps=512, gap_bars=1.0)
IMPROV_EXTRACTION = dict(MELODY_EXTRACTION, min_unique_pitches=3)


def event_sequence_rnn_model(**overrides):
  config = ml_collections.ConfigDict({
      'cell': 'lstm',
      'rnn_layer_sizes': (128, 128),
      'dropout_rate': 0.5,
      'attn_length': 0,
      'attention': 'first_layer',   # or 'stack': Magenta's 2017 graphs
  })
  config.update(overrides)
  return config


def _shrink(config):
  """The tiny variant: 2x16 LSTM, short tracks, batch 4."""
  config.model.rnn_layer_sizes = (16, 16)
  if config.model.attn_length:
    config.model.attn_length = 4
  config.data.extraction.min_bars = 2
  config.data.extraction.max_steps = 64
  config.train.batch_size = 4


def _config(encoding, extraction, clip_norm=5.0, **model):
  return base.make_config(
      family='event_sequence_rnn', encoding=encoding,
      model=event_sequence_rnn_model(**model),
      data=base.extraction_data(**extraction),
      train=base.train_config(batch_size=128, learning_rate=1e-3,
                              clip_norm=clip_norm))


@register('basic_rnn', tiny=_shrink)
def basic_rnn():
  return _config(base.encoding('melody', encoder='one_hot'), MELODY_EXTRACTION)


@register('mono_rnn', tiny=_shrink)
def mono_rnn():
  return _config(base.encoding('melody', encoder='one_hot', min_note=0,
                               max_note=128, transpose_to_key=None),
                 MELODY_EXTRACTION)


@register('lookback_rnn', tiny=_shrink)
def lookback_rnn():
  return _config(base.encoding('melody', encoder='lookback'),
                 MELODY_EXTRACTION)


@register('attention_rnn', tiny=_shrink)
def attention_rnn():
  return _config(base.encoding('melody', encoder='key'), MELODY_EXTRACTION,
                 clip_norm=3.0, attn_length=40)


@register('drum_kit_rnn', tiny=_shrink)
def drum_kit_rnn():
  return _config(base.encoding('drums', encoder='lookback'), DRUMS_EXTRACTION,
                 clip_norm=3.0, rnn_layer_sizes=(256, 256, 256),
                 attn_length=32)


def _lead_sheet(chord_encoding, encoder):
  return base.encoding('lead_sheet', chord_encoding=chord_encoding,
                       melody={'encoder': encoder, 'transpose_to_key': None})


@register('basic_improv', tiny=_shrink)
def basic_improv():
  return _config(_lead_sheet('triad', 'one_hot'), IMPROV_EXTRACTION,
                 rnn_layer_sizes=(64, 64))


@register('attention_improv', tiny=_shrink)
def attention_improv():
  return _config(_lead_sheet('triad', 'key'), IMPROV_EXTRACTION,
                 clip_norm=3.0, rnn_layer_sizes=(128, 128, 128),
                 attn_length=40)


@register('chord_pitches_improv', tiny=_shrink)
def chord_pitches_improv():
  return _config(_lead_sheet('pitches', 'one_hot'), IMPROV_EXTRACTION,
                 clip_norm=3.0, rnn_layer_sizes=(256, 256, 256))
