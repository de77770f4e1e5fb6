"""Magenta's Drums RNN encodings, id for id note-seq's (numpy, no TF).

A drum track is one event per metric step (note-seq's `DrumTrack`): the set
of drum pitches struck at that step, empty for none. Its event id is
note-seq's `MultiDrumOneHotEncoding(drum_type_pitches)`: each pitch belongs
to a drum type (Magenta's nine by default: kick, snare, closed hi-hat, open
hi-hat, low, mid and high tom, crash, ride) and the id has bit j set when a
drum of type j is struck:

  id = sum of 2**j over the types j struck       (2**9 = 512 ids)

Pitches of no type are left out (or refused, `ignore_unknown_drums=False`);
decoding strikes the first pitch of each type (36 kick, 38 snare, 42, 46,
45, 48, 50, 49, 51).

`DrumsCodec` reads these ids with note-seq's encoder-decoders
(`DrumsSettings.encoder`, event_sequence.py), as Magenta's configs do:

  'lookback'  drum_kit (Drums RNN's drum_kit_rnn.mag): no lookback
              distances, 6 counter bits: input 512 + 6 = 518, 512 classes
  'one_hot'   one_drum: one type holding every pitch, 2 steps a quarter
              note: input and classes 2

From a NoteSequence, `encode` reads every drum note as note-seq's
`DrumTrack.from_quantized_sequence` does (`extract_drum_track`); `decode`
writes note-seq's `DrumTrack.to_sequence` (drums on channel 10, one step
long).
"""

import dataclasses
import typing

import note_seq
from note_seq import constants
from note_seq import drums_encoder_decoder
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import event_sequence
from musicrnn.encodings import quantize

# Magenta's nine drum types, each a list of MIDI pitches, the first the one
# decoding strikes (note-seq's DEFAULT_DRUM_TYPE_PITCHES).
DEFAULT_DRUM_TYPE_PITCHES = tuple(
    tuple(pitches)
    for pitches in drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES)
# (lookback_distances, binary_counter_bits) of each encoder when the settings
# leave them None: Drums RNN's drum_kit config for 'lookback'.
LOOKBACK_DEFAULTS = {
    event_sequence.ONE_HOT: ((), 0),
    event_sequence.LOOKBACK: ((), 6),
}
# The drum Magenta's drums_rnn_generate primes with when given none: a bass
# drum for one step (`DrumTrack([frozenset([36])])`).
DEFAULT_PRIMER_DRUM = 36
# The most drum types an encoding may have (2**16 ids).
MAX_DRUM_TYPES = 16

REASON_UNKNOWN_DRUM = 'unknown_drum_pitch'
REASON_INVALID_DRUM = 'invalid_drum_pitch'
# Reasons `extract_drum_tracks` leaves a track out (Magenta's extractor).
REASON_NO_DRUMS = 'no_drums'
REASON_TOO_SHORT = 'drum_track_too_short'


@dataclasses.dataclass(frozen=True)
class DrumsSettings:
  """A Magenta drum encoding (saved with every dataset).

  Attributes:
    encoder: 'lookback' or 'one_hot' (module docstring).
    drum_type_pitches: the MIDI pitches of each drum type; a pitch listed
      under several types belongs to the last (as in note-seq).
    ignore_unknown_drums: leave out pitches of no type; False: refuse them.
    lookback_distances: steps, ascending ('lookback'); None: none (drum_kit).
    binary_counter_bits: counter bits of the input ('lookback'); None: 6.
    steps_per_quarter: metric grid, steps per quarter note.
    qpm: tempo `decode` writes, quarter notes per minute.
  """
  encoder: str = event_sequence.LOOKBACK
  drum_type_pitches: tuple = DEFAULT_DRUM_TYPE_PITCHES
  ignore_unknown_drums: bool = True
  lookback_distances: typing.Optional[tuple] = None
  binary_counter_bits: typing.Optional[int] = None
  steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    event_sequence.resolve_lookback_settings(self, LOOKBACK_DEFAULTS)
    types = tuple(tuple(int(p) for p in pitches)
                  for pitches in self.drum_type_pitches)
    object.__setattr__(self, 'drum_type_pitches', types)
    if not 1 <= len(types) <= MAX_DRUM_TYPES:
      raise ValueError(f'need 1 to {MAX_DRUM_TYPES} drum types, got {len(types)}')
    for pitches in types:
      if not pitches or min(pitches) < constants.MIN_MIDI_PITCH or (
          max(pitches) > constants.MAX_MIDI_PITCH):
        raise ValueError('each drum type needs MIDI pitches in [0, 127], got '
                         f'{pitches}')
    codec.check_metric_grid(self.steps_per_quarter, self.qpm)


# Magenta's Drums RNN configs (drums_rnn_model.py's default_configs).
MAGENTA_CONFIGS = {
    'drum_kit': DrumsSettings(),
    'one_drum': DrumsSettings(
        encoder=event_sequence.ONE_HOT,
        drum_type_pitches=((39,) + tuple(range(constants.MIN_MIDI_PITCH, 39))
                           + tuple(range(39, constants.MAX_MIDI_PITCH + 1)),),
        steps_per_quarter=2),
}


@dataclasses.dataclass(frozen=True)
class ExtractedDrums:
  """A drum track read from quantized notes (`extract_drum_track`).

  Attributes:
    step: int64 [hits], the step of each struck pitch, from the track's start.
    pitch: int64 [hits], its MIDI pitch; (step, pitch) pairs are distinct.
    num_steps: the track's length in steps.
    start_step: the step of the source where the track starts (a bar's
      first step); note-seq's `DrumTrack.start_step`.
    steps_per_bar: the source's bar, in steps.
  """
  step: np.ndarray
  pitch: np.ndarray
  num_steps: int
  start_step: int
  steps_per_bar: int

  @property
  def end_step(self):
    """note-seq's `DrumTrack.end_step`: the step after the last event."""
    return self.start_step + self.num_steps

  def events(self):
    """[frozenset of pitches] per step, note-seq's DrumTrack events."""
    per_step = [[] for _ in range(self.num_steps)]
    for step, pitch in zip(self.step.tolist(), self.pitch.tolist()):
      per_step[step].append(pitch)
    return [frozenset(pitches) for pitches in per_step]


def extract_drum_track(notes, search_start_step=0, gap_bars=None,
                       pad_end=False, ignore_is_drum=False):
  """The drum track note-seq's `DrumTrack.from_quantized_sequence` reads,
  vectorised.

  The drum notes (every instrument; with `ignore_is_drum` every note) of
  non-zero velocity starting at or after `search_start_step`, grouped by
  onset step; the track starts at the bar of the first and ends before the
  first onset `gap_bars` bars or more after the step following the previous
  onset; without `pad_end` it ends at the step after its last onset, with
  it at the end of that bar.

  Args:
    notes: `quantize.QuantizedNotes` of the source.
    search_start_step: the first step to read (a bar's first step).
    gap_bars: bars without drums that end the track (a float); None: never.
    pad_end: pad the track to a whole number of bars.
    ignore_is_drum: read every note, not only drum notes.

  Returns:
    ExtractedDrums; no hits and 0 steps where no note was read.

  Raises:
    codec.EncodingError: 'non_integer_steps_per_bar'.
  """
  bar = quantize.steps_per_bar(notes)
  chosen = ((notes.is_drum | ignore_is_drum) & (notes.velocity != 0)
            & (notes.start_step >= search_start_step))
  if not chosen.any():
    return ExtractedDrums(np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0,
                          bar)
  onsets = np.unique(notes.start_step[chosen])
  track_start = int(onsets[0] - (onsets[0] - search_start_step) % bar)
  index = onsets - track_start
  count = len(index)
  if gap_bars is not None:
    gaps = np.flatnonzero(index[1:] - (index[:-1] + 1) >= gap_bars * bar)
    if len(gaps):
      count = int(gaps[0]) + 1
  last = int(index[count - 1])
  step = notes.start_step[chosen].astype(np.int64) - track_start
  pitch = notes.pitch[chosen].astype(np.int64)
  inside = step <= last
  hits = np.unique(step[inside] * (constants.MAX_MIDI_PITCH + 1)
                   + pitch[inside])
  step, pitch = np.divmod(hits, constants.MAX_MIDI_PITCH + 1)
  num_steps = last + 1
  if pad_end:
    num_steps += -num_steps % bar
  return ExtractedDrums(step, pitch, num_steps, track_start, bar)


def extract_drum_tracks(notes, settings):
  """Every drum track, as Magenta's `extract_drum_tracks` walks them
  (vectorised readings by `extract_drum_track`): track after track, each
  from the first bar at or after the end of the one before, ending at a gap
  of `gap_bars`; one shorter than `min_bars` bars is left out, a longer one
  than `max_steps` cut to it.

  Args:
    notes: `quantize.QuantizedNotes` of one tempo and meter.
    settings: `codec.ExtractionSettings`.

  Returns:
    (tracks, dropped, truncated): [ExtractedDrums] kept; the reason of each
    track left out (`REASON_NO_DRUMS` alone where there is no drum note);
    how many were cut to `max_steps`.

  Raises:
    codec.EncodingError: 'non_integer_steps_per_bar'.
  """
  bar = quantize.steps_per_bar(notes)
  tracks, dropped, truncated = [], [], 0
  start = 0
  while True:
    track = extract_drum_track(notes, search_start_step=start,
                               gap_bars=settings.gap_bars,
                               pad_end=settings.pad_end)
    if not track.num_steps:
      break
    start = track.end_step + (-track.end_step) % bar
    if track.num_steps < bar * settings.min_bars:
      dropped.append(REASON_TOO_SHORT)
      continue
    if settings.max_steps and track.num_steps > settings.max_steps:
      inside = track.step < settings.max_steps
      track = ExtractedDrums(track.step[inside], track.pitch[inside],
                             settings.max_steps, track.start_step, bar)
      truncated += 1
    tracks.append(track)
  if not tracks and not dropped:
    dropped.append(REASON_NO_DRUMS)
  return tracks, dropped, truncated


@codec.register('drums')
class DrumsCodec(event_sequence.EncoderMethods, codec.Codec):
  """NoteSequence ⇄ drum event ids, and the model's inputs and labels
  (module docstring; `event_sequence.EncoderMethods`).

  Example (drum_kit):
    codec = DrumsCodec(MAGENTA_CONFIGS['drum_kit'])
    ids = codec.encode(sequence)           # int32 [steps], in [0, 512)
    inputs, labels = codec.training_example(ids)   # [steps-1, 518], [steps-1]
    codec.decode(ids)                      # NoteSequence of drums
  """

  settings_class = DrumsSettings
  timing = codec.TIMING_METRIC
  def __init__(self, settings=None):
    super().__init__(settings)
    s = self.settings
    # The drum type of each MIDI pitch, -1 for none (a later type wins).
    self._type_of_pitch = np.full(constants.MAX_MIDI_PITCH + 1, -1, np.int64)
    for index, pitches in enumerate(s.drum_type_pitches):
      self._type_of_pitch[list(pitches)] = index
    # The pitches each id strikes (the first pitch of each of its types).
    first_pitches = [pitches[0] for pitches in s.drum_type_pitches]
    self._id_events = [
        frozenset(p for j, p in enumerate(first_pitches) if ids >> j & 1)
        for ids in range(self.vocab_size)]
    if s.encoder == event_sequence.ONE_HOT:
      self.encoder = event_sequence.OneHotEncoder(self.vocab_size)
    else:
      self.encoder = event_sequence.LookbackEncoder(
          self.vocab_size, 0, s.lookback_distances, s.binary_counter_bits)

  def empty_primer(self):
    """Magenta's primer when none is given: one step striking a bass drum
    (`DEFAULT_PRIMER_DRUM`, 36, drums_rnn_generate's
    `DrumTrack([frozenset([36])])`); drum types without pitch 36 strike
    their first type instead."""
    kick = int(self._type_of_pitch[DEFAULT_PRIMER_DRUM])
    return np.array([1 << max(kick, 0)], np.int32)

  @property
  def vocab_size(self):
    """The number of event ids: 2 ** (number of drum types)."""
    return 2 ** len(self.settings.drum_type_pitches)

  def drum_types(self, pitch):
    """int64 [n]: the drum type of each MIDI pitch of int [n] `pitch`, -1
    for a pitch of none."""
    return self._type_of_pitch[np.asarray(pitch, np.int64)]

  def hit_ids(self, step, pitch, num_steps):
    """Struck (step, pitch) pairs -> int32 [num_steps] event ids, as
    `MultiDrumOneHotEncoding.encode_event` of each step's set.

    Raises:
      codec.EncodingError: 'invalid_drum_pitch' (not a MIDI pitch),
        'unknown_drum_pitch' (of no type, with ignore_unknown_drums False).
    """
    step = np.asarray(step, np.int64)
    pitch = np.asarray(pitch, np.int64)
    if pitch.size and (pitch.min() < constants.MIN_MIDI_PITCH
                       or pitch.max() > constants.MAX_MIDI_PITCH):
      raise codec.EncodingError(
          REASON_INVALID_DRUM, f'drum pitches {pitch.min()}..{pitch.max()} are '
          'not all MIDI pitches')
    drum_type = self._type_of_pitch[pitch]
    known = drum_type >= 0
    if not self.settings.ignore_unknown_drums and not known.all():
      raise codec.EncodingError(
          REASON_UNKNOWN_DRUM,
          f'drum pitch {pitch[~known][0]} is of no drum type')
    ids = np.zeros(num_steps, np.int64)
    np.bitwise_or.at(ids, step[known], np.left_shift(1, drum_type[known]))
    return ids.astype(np.int32)

  def event_ids(self, events):
    """Drum events (a note_seq.DrumTrack, or one collection of pitches per
    step) -> int32 ids; see `hit_ids`."""
    events = [tuple(event) for event in events]
    step = np.repeat(np.arange(len(events)), [len(e) for e in events])
    pitch = np.fromiter((p for e in events for p in e), np.int64,
                        count=len(step))
    return self.hit_ids(step, pitch, len(events))

  def drum_track(self, ids, start_step=0):
    """Event ids -> a note_seq.DrumTrack (4/4 bars of this grid), each type
    struck as its first pitch (note-seq's `decode_event`)."""
    ids = self.check_ids(ids)
    spq = self.settings.steps_per_quarter
    return note_seq.DrumTrack([self._id_events[i] for i in ids.tolist()],
                              start_step=start_step, steps_per_quarter=spq,
                              steps_per_bar=4 * spq)

  def encode(self, sequence):
    """A NoteSequence (seconds) -> the event ids of its drums.

    Every drum note, as `extract_drum_track` reads them with no gap ending
    the track: one id per step from the bar of the first drum note to the
    step of the last.

    Returns:
      int32 [steps]; empty for a sequence without drum notes.

    Raises:
      codec.EncodingError: reasons of quantize.py (the sequence cannot be
        quantized), 'non_integer_steps_per_bar', and `hit_ids`'.
    """
    notes = quantize.quantize_sequence(sequence,
                                       self.settings.steps_per_quarter)
    track = extract_drum_track(notes)
    return self.hit_ids(track.step, track.pitch, track.num_steps)

  extracts = True

  def extract(self, sequence, settings):
    """Magenta's Drums RNN data: every drum track `extract_drum_tracks`
    reads from a NoteSequence (seconds, one tempo and meter) at the
    settings' grid, its event ids an example ({'tokens': ids}, 0).

    With MusicVAE's converter settings (`codec.ExtractionSettings`), as its
    DrumsConverter: a sequence of another meter gives nothing, drum pitches
    of no drum type are taken out first (`drop_unencodable_notes`), and
    the examples are the windows sliding over each track
    (`codec.windows`).

    Raises:
      codec.EncodingError: the sequence cannot be quantized; `hit_ids`'.
    """
    notes = quantize.quantize_sequence(sequence,
                                       self.settings.steps_per_quarter)
    codec.check_meter(notes, settings)
    keep = codec.program_mask(notes, settings)
    if settings.drop_unencodable_notes:
      keep &= ~notes.is_drum | (self._type_of_pitch[notes.pitch] >= 0)
    if not keep.all():
      notes = notes.select(keep)
    tracks, dropped, truncated = extract_drum_tracks(notes, settings)
    examples = [({self.sequence_feature: self.hit_ids(
        track.step, track.pitch, track.num_steps)}, 0) for track in tracks]
    examples, dropped, duplicates = codec.windows(
        examples, dropped, quantize.steps_per_bar(notes), settings)
    return codec.Extraction(examples, dropped, truncated, duplicates)

  def decode(self, ids):
    """Event ids -> NoteSequence, by note-seq's `DrumTrack.to_sequence` at
    the settings' qpm (velocity 100, instrument 9, is_drum)."""
    return self.drum_track(ids).to_sequence(qpm=self.settings.qpm)
