"""Encodings (numpy only, no TensorFlow): NoteSequences <-> arrays.

  codec        the contract every codec follows; `codec_from_spec`
  performance  Performance RNN events (+ velocity bins), token for token
               note-seq's
  polyphony    Polyphony RNN events on a metric grid
  pianoroll    fixed-size binary bar segments, for the GAN
  frames       onset and held bits of each key, a frame per step (the
               piano-roll LSTM); or one sounding bit per key (the 2012
               polyphonic benchmark, Pianoroll RNN-NADE); or each frame's
               sounding keys as tokens, then FRAME_END (an event model's
               exact factorisation of a frame)
  note_tuple   a (chord, offset, duration) token per onset (the
               note/offset/duration LSTM)
  controls     control signals (`controls.CONTROLS`: note density,
               pitch-class histogram)
  quantize     note-seq's metric quantization, vectorised; step-grid helpers

  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)   # [(name, control)]

Importing this package registers every codec with `codec.codec_from_spec`.
"""

from musicrnn.encodings import codec
from musicrnn.encodings import controls
from musicrnn.encodings import frames
from musicrnn.encodings import note_tuple
from musicrnn.encodings import performance
from musicrnn.encodings import pianoroll
from musicrnn.encodings import polyphony


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


# [(name, control)] of the controls a config switches on, in registry order.
controls_from_config = controls.controls_from_config


__all__ = ['codec', 'controls', 'frames', 'note_tuple', 'performance',
           'pianoroll', 'polyphony', 'codec_from_config', 'controls_from_config']
