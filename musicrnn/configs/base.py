"""Pieces every config is built from: encoding, controls, data, train."""

import ml_collections

from musicrnn.encodings import controls as controls_lib

# Magenta's performance pipeline: train-only time stretches and transpositions.
STRETCH_FACTORS = (0.95, 0.975, 1.0, 1.025, 1.05)
TRANSPOSITIONS = (-3, -2, -1, 0, 1, 2, 3)


def data_config(**overrides):
  """How `musicrnn_create_dataset` turns NoteSequences into examples.

  Fields:
    sustain: lengthen notes held by the sustain pedal (CC 64) first.
    split_by: 'id' (each source file) or 'folder' (every file in one folder,
      e.g. ASAP's performances of one piece) decides the eval split.
    stretch_factors: train-only time stretches (1.0 keeps the original).
    transpositions: train-only transpositions in semitones (0 keeps it);
      notes pushed out of the MIDI range are dropped.
    chunk_seconds: cut each sequence into chunks this long (0: no cut).
    split_on_time_changes: cut at tempo / time-signature changes (needed by
      metric encodings, which quantize with one tempo).
    length_unit: what min_events and max_events count: 'events' (tokens),
      or 'steps' (quantized steps of a metric encoding, as Magenta's
      polyphony extractor).
    min_events: drop encoded sequences shorter than this (in length_unit;
      segments for a piano roll).
    max_events: what happens to longer sequences, per `long_sequences`:
      'split' into pieces this long, 'truncate' to this long, 'discard'
      them, or 'crop': kept whole, and each training pass reads a random
      window of max_events events from each (the Music Transformer's random
      crops); the eval split is cut into fixed windows, so eval NLL is
      comparable between runs.
  """
  config = ml_collections.ConfigDict({
      'sustain': True,
      'split_by': 'id',
      'stretch_factors': STRETCH_FACTORS,
      'transpositions': TRANSPOSITIONS,
      'chunk_seconds': 30.0,
      'split_on_time_changes': False,
      'length_unit': 'events',
      'min_events': 32,
      'max_events': 512,
      'long_sequences': 'split',
  })
  config.update(overrides)
  return config


def controls_config(*names):
  """The control signals computed per event and fed to conditional models:
  for every registered control (`encodings.controls.CONTROLS`) its switch,
  on for `names`, and its settings at their defaults (Magenta's).

  Raises:
    ValueError: a name that is no control's.
  """
  unknown = sorted(set(names) - {cls.name for cls in controls_lib.CONTROLS})
  if unknown:
    raise ValueError(f'no control is named {unknown}')
  section = {}
  for cls in controls_lib.CONTROLS:
    section[cls.name] = cls.name in names
    defaults = cls.settings_class()
    for key, field in cls.config_keys.items():
      section[key] = getattr(defaults, field)
  return ml_collections.ConfigDict(section)


def train_config(**overrides):
  """How a model trains: batch size, Adam's learning rate and clipping, and
  what the family's task (`musicrnn.tasks`) reads, e.g. frame models'
  `loss` ('bce' or 'focal', with `focal_alpha` and `focal_gamma`).
  `bucket_boundaries`: lengths (events or frames) at which training batches
  are bucketed, so that examples of like length go together and a batch of
  whole pieces pads less; empty: each batch padded to its longest.
  `lr_decay_patience`: above 0, the learning rate is multiplied by
  `lr_decay_factor` each time this many evaluations in a row have not
  bettered the best (as Keras' ReduceLROnPlateau, and Bai et al.'s
  benchmark runs); a constant learning rate only."""
  config = ml_collections.ConfigDict({
      'batch_size': 64,
      'learning_rate': 1e-3,
      'clip_norm': 3.0,
      'bucket_boundaries': (),
      'lr_decay_patience': 0,
      'lr_decay_factor': 0.1,
  })
  config.update(overrides)
  return config


def make_config(family, encoding, model, data=None, controls=None, train=None):
  """A complete config: `family` names the model file in musicrnn/models/."""
  return ml_collections.ConfigDict({
      'name': '',
      'family': family,
      'encoding': encoding,
      'controls': controls or controls_config(),
      'data': data or data_config(),
      'model': model,
      'train': train or train_config(),
  })


def encoding(name, **settings):
  return ml_collections.ConfigDict({'name': name, 'settings': settings})


def benchmark_frames(steps_per_quarter=1):
  """The frames of the 2012 polyphonic-music benchmark (JSB Chorales,
  Nottingham): 88 keys (A0-C8), each sounding or not (`key_frames`);
  JSB's are a quarter note long, Nottingham's an eighth."""
  return encoding('key_frames', steps_per_quarter=steps_per_quarter,
                  min_pitch=21, max_pitch=108)


def whole_pieces():
  """Data settings that keep every piece whole, as the benchmark's: no cut
  (`max_events=0`), no chunks, split only where the tempo or time signature
  changes (a metric grid needs one of each), no time stretch or
  transposition, at least 2 frames (an input and a label)."""
  return data_config(chunk_seconds=0.0, split_on_time_changes=True,
                     stretch_factors=(1.0,), transpositions=(0,),
                     min_events=2, max_events=0)


def extraction_data(**extraction):
  """Data settings of Magenta's Melody, Drums and Improv RNN pipelines: each
  sequence split where the tempo or time signature changes, no sustain,
  no time stretch or transposition (lead sheets take their twelve keys in
  the extraction), tracks read by the codec's `extract` with
  `extraction` (`encodings.codec.ExtractionSettings`: min_bars 7,
  max_steps 512, gap_bars 1.0, min_unique_pitches 5 by default; Improv
  RNN's min_unique_pitches is 3) in place of min_events and max_events."""
  config = data_config(sustain=False, chunk_seconds=0.0,
                       split_on_time_changes=True, stretch_factors=(1.0,),
                       transpositions=(0,), min_events=0, max_events=0)
  config.extraction = ml_collections.ConfigDict(extraction)
  return config


def shrink_data(config, max_events=64):
  """Tiny variants: short sequences, no augmentation beyond identity + 1."""
  config.data.max_events = max_events
  config.data.min_events = min(config.data.min_events, 8)
  config.data.stretch_factors = (1.0, 1.05)
  config.data.transpositions = (0, 1)
  config.train.batch_size = 4


def tiny_variant(model, data=None, train=None):
  """The shrink function of a config's tiny variant, for `register(tiny=)`.

  Args:
    model: dict of model hparams to set (toy sizes).
    data: dict of data settings to set after `shrink_data`'s.
    train: dict of train settings to set after `shrink_data`'s.

  Returns:
    A function that shrinks a config in place.
  """

  def shrink(config):
    config.model.update(model)
    shrink_data(config)
    config.data.update(data or {})
    config.train.update(train or {})

  return shrink
