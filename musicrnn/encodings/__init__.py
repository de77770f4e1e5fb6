"""Encodings (numpy only, no TensorFlow): NoteSequences <-> arrays.

  codec        the contract every codec follows; `codec_from_spec`
  performance  Performance RNN events (+ velocity bins), token for token
               note-seq's
  polyphony    Polyphony RNN events on a metric grid
  melody       Melody RNN melodies (basic, mono, lookback, attention), id
               for id note-seq's encoder-decoders
  drums        Drums RNN drum tracks (drum_kit, one_drum), likewise
  lead_sheet   Improv RNN melodies over chords, likewise
  event_sequence  the one-hot and lookback inputs and labels those share
  pianoroll    fixed-size binary bar segments, for the GAN
  frames       onset and held bits of each key, a frame per step (the
               piano-roll LSTM); or one sounding bit per key (the 2012
               polyphonic benchmark, Pianoroll RNN-NADE); or each frame's
               sounding keys as tokens, then FRAME_END (an event model's
               exact factorisation of a frame)
  note_tuple   a (chord, offset, duration) token per onset (the
               note/offset/duration LSTM)
  trio         MusicVAE's trios: a melody, bass and drums id a step, packed
               in one token, read as Magenta's TrioConverter reads them
  controls     control signals (`controls.CONTROLS`: note density,
               pitch-class histogram)
  quantize     note-seq's metric quantization, vectorised; step-grid helpers

  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)   # [(name, control)]
  codec = encodings.magenta_codec('lookback_rnn')     # a Magenta config's

Importing this package registers every codec with `codec.codec_from_spec`.
"""

from musicrnn.encodings import codec
from musicrnn.encodings import controls
from musicrnn.encodings import drums
from musicrnn.encodings import event_sequence
from musicrnn.encodings import frames
from musicrnn.encodings import lead_sheet
from musicrnn.encodings import melody
from musicrnn.encodings import note_tuple
from musicrnn.encodings import performance
from musicrnn.encodings import pianoroll
from musicrnn.encodings import polyphony
from musicrnn.encodings import trio


def codec_from_config(config):
  """The codec of `config.encoding` ({'name', 'settings'})."""
  return codec.codec_from_spec(config.encoding.to_dict())


def with_learned_settings(config, spec):
  """A copy of `config` whose encoding has the settings the codec learns
  from data (`Codec.learned_settings`, e.g. a chord vocabulary) taken from
  `spec` (the codec spec of a dataset built for it); `config` itself when its
  codec learns nothing or already has them."""
  ours = codec_from_config(config)
  if not ours.needs_counts or spec.get('name') != ours.name:
    return config
  learned = codec.codec_from_spec(spec).settings
  config = config.copy_and_resolve_references()
  with config.unlocked():
    for name in ours.learned_settings:
      config.encoding.settings[name] = getattr(learned, name)
  return config


# Magenta's event-RNN configs, by Magenta's config id: (codec class,
# settings) of the encoder-decoder each config names.
MAGENTA_CODECS = {
    **{name: (melody.MelodyCodec, settings)
       for name, settings in melody.MAGENTA_CONFIGS.items()},
    **{name: (drums.DrumsCodec, settings)
       for name, settings in drums.MAGENTA_CONFIGS.items()},
    **{name: (lead_sheet.LeadSheetCodec, settings)
       for name, settings in lead_sheet.MAGENTA_CONFIGS.items()},
}


def magenta_codec(config_id):
  """The codec of a Magenta Melody, Drums or Improv RNN config ('basic_rnn',
  'drum_kit', 'chord_pitches_improv', ...), equal to its encoder-decoder."""
  if config_id not in MAGENTA_CODECS:
    raise ValueError(f'no Magenta config {config_id!r}; known: '
                     f'{", ".join(sorted(MAGENTA_CODECS))}')
  cls, settings = MAGENTA_CODECS[config_id]
  return cls(settings)


# [(name, control)] of the controls a config switches on, in registry order.
controls_from_config = controls.controls_from_config


__all__ = ['codec', 'controls', 'drums', 'event_sequence', 'frames',
           'lead_sheet', 'melody', 'note_tuple', 'performance', 'pianoroll',
           'polyphony', 'codec_from_config', 'controls_from_config',
           'magenta_codec', 'MAGENTA_CODECS']
