"""Magenta's Melody RNN encodings, id for id note-seq's (numpy, no TF).

A melody is one event per metric step (note-seq's `Melody`): a MIDI pitch
(a note starts and sounds until the next event that is not NO_EVENT),
NOTE_OFF (silence from here) or NO_EVENT (what sounded goes on). Its event
ids are note-seq's `MelodyOneHotEncoding(min_note, max_note)`, max_note
exclusive:

  id 0                        NO_EVENT
  id 1                        NOTE_OFF
  ids 2 .. 2+R-1              the pitches min_note .. max_note - 1  (R of them)

`MelodyCodec` reads these ids with one of three encoder-decoders
(`MelodySettings.encoder`), as Magenta's configs do:

  'one_hot'   basic_rnn (48..84), mono_rnn (0..128): note-seq's
              OneHotEventSequenceEncoderDecoder (event_sequence.py)
  'lookback'  lookback_rnn: note-seq's LookbackEventSequenceEncoderDecoder,
              distances (16, 32), 5 counter bits (event_sequence.py)
  'key'       attention_rnn: note-seq's KeyMelodyEncoderDecoder, distances
              (16, 32), 7 counter bits (`KeyMelodyEncoder` below)

`MAGENTA_CONFIGS` holds the settings of each Magenta config. Shapes of the
default range (48..84, 38 ids): one_hot in 38, classes 38; lookback in 121,
classes 40; key in 74, classes 40; mono_rnn in and classes 130.

From a NoteSequence, `encode` does what Magenta's Melody RNN pipeline does
to one melody: note-seq's melody reading (`extract_melody`: quantize, notes
by onset, the highest of notes that start together, a note cut where the
next starts, the melody starting at the bar of its first note) and its
`squash` (transposed into `transpose_to_key` and octave-folded into
[min_note, max_note)); `decode` writes note-seq's `Melody.to_sequence`.
"""

import dataclasses
import typing

import note_seq
from note_seq import constants
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import event_sequence
from musicrnn.encodings import quantize

# note-seq's melody event values.
NO_EVENT = constants.MELODY_NO_EVENT    # -2
NOTE_OFF = constants.MELODY_NOTE_OFF    # -1
# Their ids (MelodyOneHotEncoding); a pitch p is p - min_note + NUM_SPECIAL.
NO_EVENT_ID = 0
NOTE_OFF_ID = 1
NUM_SPECIAL = 2

KEY = 'key'
ENCODERS = (event_sequence.ONE_HOT, event_sequence.LOOKBACK, KEY)
# (lookback_distances, binary_counter_bits) of each encoder when the
# settings leave them None: note-seq's defaults.
LOOKBACK_DEFAULTS = {
    event_sequence.ONE_HOT: ((), 0),
    event_sequence.LOOKBACK: ((16, 32), 5),
    KEY: ((16, 32), 7),
}
# The melody Magenta's melody_rnn_generate and improv_rnn_generate prime
# with when given none: a single middle C ("Defaulting to a single middle
# C"), one step long.
DEFAULT_PRIMER_MELODY = (60,)
# Magenta's melody range and key (melody_rnn_model.py).
DEFAULT_MIN_NOTE = 48
DEFAULT_MAX_NOTE = 84
DEFAULT_TRANSPOSE_TO_KEY = 0
# The bar KeyMelodyEncoderDecoder marks, in steps, whatever the meter.
KEY_BAR_STEPS = constants.DEFAULT_STEPS_PER_BAR
NOTES_PER_OCTAVE = constants.NOTES_PER_OCTAVE
# [pitch class, major key]: 1 where the pitch class is in the key's scale.
KEY_SCALES = np.zeros((NOTES_PER_OCTAVE, NOTES_PER_OCTAVE), np.int64)
for _pitch_class, _keys in enumerate(constants.NOTE_KEYS):
  KEY_SCALES[_pitch_class, _keys] = 1
del _pitch_class, _keys

# Reasons for `codec.EncodingError`.
REASON_PITCH_OUT_OF_RANGE = 'pitch_out_of_range'
REASON_INVALID_EVENT = 'invalid_melody_event'
REASON_POLYPHONIC = 'polyphonic_melody'
# Reasons `extract_melodies` leaves a melody out (Magenta's extractor).
REASON_NO_MELODY = 'no_melody'
REASON_TOO_SHORT = 'melody_too_short'
REASON_TOO_FEW_PITCHES = 'too_few_unique_pitches'


@dataclasses.dataclass(frozen=True)
class MelodySettings:
  """A Magenta melody encoding (saved with every dataset).

  Attributes:
    encoder: 'one_hot', 'lookback' or 'key' (module docstring).
    min_note: lowest MIDI pitch with an id.
    max_note: one above the highest (exclusive, as note-seq's).
    transpose_to_key: the major key (0 = C .. 11 = B) `encode` transposes a
      melody into, or None to keep its key; either way notes are then
      octave-folded into [min_note, max_note) (Magenta's `squash`).
    lookback_distances: steps, ascending (lookback and key encoders); None:
      the encoder's default (16, 32).
    binary_counter_bits: counter bits of the input (lookback and key); None:
      the encoder's default (lookback 5, key 7).
    steps_per_quarter: metric grid, steps per quarter note.
    qpm: tempo `decode` writes, quarter notes per minute.
  """
  encoder: str = event_sequence.ONE_HOT
  min_note: int = DEFAULT_MIN_NOTE
  max_note: int = DEFAULT_MAX_NOTE
  transpose_to_key: typing.Optional[int] = DEFAULT_TRANSPOSE_TO_KEY
  lookback_distances: typing.Optional[tuple] = None
  binary_counter_bits: typing.Optional[int] = None
  steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    event_sequence.resolve_lookback_settings(self, LOOKBACK_DEFAULTS)
    if not 0 <= self.min_note < self.max_note <= constants.MAX_MIDI_PITCH + 1:
      raise ValueError('need 0 <= min_note < max_note <= 128, got '
                       f'{self.min_note}, {self.max_note}')
    if self.transpose_to_key is not None and not (
        0 <= self.transpose_to_key < NOTES_PER_OCTAVE):
      raise ValueError(f'transpose_to_key must be None or in [0, 11], got '
                       f'{self.transpose_to_key}')
    if self.encoder == KEY and not self.lookback_distances:
      raise ValueError('the key encoder needs lookback_distances')
    codec.check_metric_grid(self.steps_per_quarter, self.qpm)

  @property
  def note_range(self):
    return self.max_note - self.min_note


# Magenta's Melody RNN configs (melody_rnn_model.py's default_configs).
MAGENTA_CONFIGS = {
    'basic_rnn': MelodySettings(),
    'mono_rnn': MelodySettings(min_note=0, max_note=128, transpose_to_key=None),
    'lookback_rnn': MelodySettings(encoder=event_sequence.LOOKBACK),
    'attention_rnn': MelodySettings(encoder=KEY),
}


@dataclasses.dataclass(frozen=True)
class ExtractedMelody:
  """A melody read from quantized notes (`extract_melody`).

  Attributes:
    events: int64 [steps] melody event values (pitch, NOTE_OFF, NO_EVENT).
    start_step: the step of the source where events[0] lies (a bar's first
      step); note-seq's `Melody.start_step`.
    steps_per_bar: the source's bar, in steps.
  """
  events: np.ndarray
  start_step: int
  steps_per_bar: int

  @property
  def end_step(self):
    """note-seq's `Melody.end_step`: the step after the last event."""
    return self.start_step + len(self.events)


def extract_melody(notes, instrument=None, search_start_step=0, gap_bars=None,
                   ignore_polyphonic_notes=True, pad_end=False,
                   filter_drums=True):
  """The melody note-seq's `Melody.from_quantized_sequence` reads, vectorised.

  Of the notes of `instrument` starting at or after `search_start_step`: the
  melody starts at the bar of the first of them (drums and silent notes
  included, as note-seq's); notes by onset, the highest of those starting
  together, each cut where the next starts; drums (with `filter_drums`) and
  velocity-0 notes are skipped; the melody ends before the first note that
  starts `gap_bars` bars or more after the previous note ended. Without
  `pad_end` it ends where its last note ends; with it, at the end of that
  bar (a NOTE_OFF then ends the last note).

  Args:
    notes: `quantize.QuantizedNotes` of the source.
    instrument: the instrument to read; None: every instrument as one.
    search_start_step: the first step to read (a bar's first step).
    gap_bars: bars of silence that end the melody (a float); None: never.
    ignore_polyphonic_notes: keep the highest of notes starting together;
      False: refuse them (reason 'polyphonic_melody').
    pad_end: pad the melody to a whole number of bars.
    filter_drums: skip drum notes.

  Returns:
    ExtractedMelody; its events are empty where no note was read.

  Raises:
    codec.EncodingError: 'non_integer_steps_per_bar', or
      'polyphonic_melody' (notes starting together, not ignored).
  """
  bar = quantize.steps_per_bar(notes)
  chosen = notes.start_step >= search_start_step
  if instrument is not None:
    chosen &= notes.instrument == instrument
  empty = ExtractedMelody(np.zeros(0, np.int64), 0, bar)
  if not chosen.any():
    return empty
  first = int(notes.start_step[chosen].min())
  melody_start = first - (first - search_start_step) % bar
  kept = chosen & (notes.velocity != 0)
  if filter_drums:
    kept &= ~notes.is_drum
  if not kept.any():
    return empty
  start = notes.start_step[kept] - melody_start
  end = notes.end_step[kept] - melody_start
  pitch = notes.pitch[kept].astype(np.int64)
  # By onset, then pitch descending; equal notes stay in the source's order.
  order = np.lexsort((-pitch, start))
  start, end, pitch = start[order], end[order], pitch[order]
  repeated_onset = np.zeros(len(start), bool)
  repeated_onset[1:] = start[1:] == start[:-1]
  first_of_onset = ~repeated_onset
  lead_start, lead_end = start[first_of_onset], end[first_of_onset]
  lead_pitch = pitch[first_of_onset]
  count = len(lead_start)
  if gap_bars is not None:
    gaps = np.flatnonzero(lead_start[1:] - lead_end[:-1] >= gap_bars * bar)
    if len(gaps):
      count = int(gaps[0]) + 1
  if not ignore_polyphonic_notes:
    cut = lead_start[count] if count < len(lead_start) else np.inf
    if (repeated_onset & (start < cut)).any():
      raise codec.EncodingError(
          REASON_POLYPHONIC, 'notes start together at step %d' % (
              start[repeated_onset & (start < cut)][0] + melody_start))
  lead_start, lead_end = lead_start[:count], lead_end[:count]
  lead_pitch = lead_pitch[:count]
  length = int(lead_end[-1])
  padded = length + (-length % bar if pad_end else 0)
  events = np.full(padded + 1, NO_EVENT, np.int64)
  # A note's NOTE_OFF stands unless the next note starts at or before it.
  ends_in_silence = np.ones(count, bool)
  ends_in_silence[:-1] = lead_end[:-1] < lead_start[1:]
  events[lead_end[ends_in_silence]] = NOTE_OFF
  events[lead_start] = lead_pitch
  # The last note's NOTE_OFF goes, unless padding follows it.
  return ExtractedMelody(events[:padded if padded > length else length],
                         melody_start, bar)


def extract_melodies(notes, settings):
  """Every melody of every instrument, as Magenta's `extract_melodies`
  walks them (vectorised readings by `extract_melody`).

  For each instrument (in order of number), melody after melody from its
  start: each starts at the first bar at or after the end of the one
  before and ends at a gap of `gap_bars`; a melody shorter than `min_bars`
  bars is left out; a longer one than `max_steps` is cut to it; then one
  with fewer than `min_unique_pitches` pitch classes is left out. Notes
  starting together (unless ignored) leave out the rest of the instrument.

  Args:
    notes: `quantize.QuantizedNotes` of one tempo and meter.
    settings: `codec.ExtractionSettings`.

  Returns:
    (melodies, dropped, truncated): [ExtractedMelody] kept; the reason of
    each melody left out (`REASON_*`; `REASON_NO_MELODY` alone where no
    instrument has a melody note); how many were cut to `max_steps`.

  Raises:
    codec.EncodingError: 'non_integer_steps_per_bar'.
  """
  bar = quantize.steps_per_bar(notes)
  melodies, dropped, truncated = [], [], 0
  for instrument in np.unique(notes.instrument).tolist():
    start = 0
    while True:
      try:
        found = extract_melody(
            notes, instrument=instrument, search_start_step=start,
            gap_bars=settings.gap_bars,
            ignore_polyphonic_notes=settings.ignore_polyphonic_notes,
            pad_end=settings.pad_end)
      except codec.EncodingError as e:
        if e.reason != REASON_POLYPHONIC:
          raise
        dropped.append(REASON_POLYPHONIC)
        break
      events = found.events
      if not len(events):
        break
      start = found.end_step + (-found.end_step) % bar
      if len(events) < bar * settings.min_bars:
        dropped.append(REASON_TOO_SHORT)
        continue
      if settings.max_steps and len(events) > settings.max_steps:
        events = events[:settings.max_steps]
        truncated += 1
      pitch_classes = np.unique(events[events >= 0] % NOTES_PER_OCTAVE)
      if len(pitch_classes) < settings.min_unique_pitches:
        dropped.append(REASON_TOO_FEW_PITCHES)
        continue
      melodies.append(ExtractedMelody(events, found.start_step, bar))
  if not melodies and not dropped:
    dropped.append(REASON_NO_MELODY)
  return melodies, dropped, truncated


def major_key_histogram(pitch_class_counts):
  """[..., 12] counts of each pitch class -> [..., 12] notes in each major
  key's scale (note-seq's `get_major_key_histogram`)."""
  return np.asarray(pitch_class_counts) @ KEY_SCALES


def squash(events, min_note, max_note, transpose_to_key):
  """note-seq's `Melody.squash`, vectorised: transposes a melody into a key
  (None: no transposition), by whole octaves towards the middle of
  [min_note, max_note), then octave-folds every note into that range.

  Args:
    events: int [steps] melody event values.
    min_note, max_note: the range (max_note exclusive).
    transpose_to_key: 0 (C major) .. 11, or None.

  Returns:
    (events, transposition): int64 [steps] and the semitones added before
    the folding.
  """
  events = np.array(events, np.int64)
  is_pitch = events >= 0
  pitches = events[is_pitch]
  if transpose_to_key is None:
    amount = 0
  else:
    if not len(pitches):
      return events, 0
    counts = np.bincount(pitches % NOTES_PER_OCTAVE, minlength=NOTES_PER_OCTAVE)
    key_diff = transpose_to_key - int(np.argmax(major_key_histogram(counts)))
    center = (int(pitches.min()) + int(pitches.max())) / 2
    target = (min_note + max_note - 1) / 2
    center_diff = target - (center + key_diff)
    amount = key_diff + NOTES_PER_OCTAVE * int(
        round(center_diff / float(NOTES_PER_OCTAVE)))
  moved = pitches + amount
  moved = np.where(moved < min_note,
                   min_note + (moved - min_note) % NOTES_PER_OCTAVE, moved)
  moved = np.where(moved >= max_note, max_note - NOTES_PER_OCTAVE
                   + (moved - max_note) % NOTES_PER_OCTAVE, moved)
  events[is_pitch] = moved
  return events, amount


class KeyMelodyEncoder(event_sequence.SequenceEncoder):
  """note-seq's KeyMelodyEncoderDecoder (attention_rnn), vectorised.

  Input of step i (R = max_note - min_note, D distances, B bits):
    [R]   one-hot of the pitch sounding after step i (none when silent,
          note-seq's reading: a pitch of 0 counts as silence)
    [2]   a note sounds; silence
    [1]   the last event that is not a NOTE_OFF is a note-on
    [1]   +1 if the last change of pitch between successive note-ons went
          up, -1 if down, 0 before any
    [D]   1 if step i's event equals the event d_j steps back
    [B]   bit b of i + 1, +1 set, -1 not
    [1]   1 if step i + 1 starts a 16-step bar
    [12]  1 for each major key whose scale holds the most note-ons so far
    [12]  the same for the last three distinct pitches played
  Label: [0, R) the pitch, R NO_EVENT, R + 1 NOTE_OFF, R + 2 + j a repeat of
  d_j steps back (note-seq's lookback rule; event_sequence.lookback_labels).
  """

  def __init__(self, min_note, max_note, lookback_distances,
               binary_counter_bits):
    self.min_note = min_note
    self.note_range = max_note - min_note
    self.distances = tuple(lookback_distances)
    self.bits = binary_counter_bits
    self.input_size = (self.note_range + 2 + 1 + 1 + len(self.distances)
                       + self.bits + 1 + 2 * NOTES_PER_OCTAVE)
    self.num_classes = self.note_range + 2 + len(self.distances)
    # The event id of each label below the lookbacks.
    self._plain_to_id = np.concatenate([
        np.arange(NUM_SPECIAL, NUM_SPECIAL + self.note_range),
        [NO_EVENT_ID, NOTE_OFF_ID]])

  def labels(self, ids):
    ids = np.asarray(ids, np.int64)
    plain = np.where(ids == NO_EVENT_ID, self.note_range,
                     np.where(ids == NOTE_OFF_ID, self.note_range + 1,
                              ids - NUM_SPECIAL))
    return event_sequence.lookback_labels(ids, plain, self.distances,
                                          NO_EVENT_ID, self.note_range + 2)

  def ids_from_labels(self, labels, primer=()):
    return event_sequence.ids_from_lookback_labels(
        labels, self._plain_to_id, self.distances, NO_EVENT_ID,
        self.note_range + 2, primer)

  def spec(self):
    return {'kind': KEY, 'min_note': self.min_note,
            'note_range': self.note_range,
            'lookback_distances': list(self.distances),
            'binary_counter_bits': self.bits}

  def inputs(self, ids):
    ids = np.asarray(ids, np.int64)
    steps = len(ids)
    position = np.arange(steps)
    is_on = ids >= NUM_SPECIAL
    is_off = ids == NOTE_OFF_ID
    column = ids - NUM_SPECIAL  # the pitch's column where is_on

    def last(mask):
      """The position of the last step at or before each step where `mask`
      holds, -1 before any."""
      return np.maximum.accumulate(np.where(mask, position, -1))

    # The note sounding: the last note-on, unless a NOTE_OFF came after it.
    on_or_off = last(is_on | is_off)
    sounding = (on_or_off >= 0) & is_on[on_or_off]
    sounding_column = np.where(sounding, column[on_or_off], 0)
    sounding &= sounding_column + self.min_note != 0  # note-seq's `if note:`
    attack_step = last(~is_off)
    attack = (attack_step >= 0) & is_on[attack_step]

    # Per note-on k (in order): its column, whether the melody went up or
    # down at the last change of pitch so far, and its key counts.
    on_steps = np.flatnonzero(is_on)
    on_column = column[on_steps]
    step_in_ons = np.cumsum(is_on) - 1  # the last note-on at each step
    change = np.sign(np.diff(on_column, prepend=on_column[:1]))
    last_change = np.maximum.accumulate(
        np.where(change != 0, np.arange(len(change)), -1))
    direction = np.where(last_change >= 0, change[np.maximum(last_change, 0)],
                         0)
    pitch_class = (on_column + self.min_note) % NOTES_PER_OCTAVE
    class_counts = np.cumsum(np.eye(NOTES_PER_OCTAVE, dtype=np.int64)[
        pitch_class], axis=0)
    # The last three distinct pitches: the three columns seen most recently.
    recent = np.full((len(on_steps), self.note_range), -1, np.int64)
    recent[np.arange(len(on_steps)), on_column] = np.arange(len(on_steps))
    recent = np.maximum.accumulate(recent, axis=0)
    latest = np.argsort(-recent, axis=1, kind='stable')[:, :3]
    seen = np.take_along_axis(recent, latest, axis=1) >= 0
    recent_counts = np.zeros((len(on_steps), NOTES_PER_OCTAVE), np.int64)
    rows = np.broadcast_to(np.arange(len(on_steps))[:, None], latest.shape)
    np.add.at(recent_counts, (rows[seen], (
        (latest + self.min_note) % NOTES_PER_OCTAVE)[seen]), 1)

    def per_step(values, before_any):
      """[steps, ...] of per-note-on `values`: the last note-on's at each
      step, `before_any` before the first."""
      if not len(on_steps):
        return np.broadcast_to(before_any, (steps,) + np.shape(before_any))
      chosen = values[np.maximum(step_in_ons, 0)]
      return np.where((step_in_ons >= 0).reshape((-1,) + (1,) * (
          chosen.ndim - 1)), chosen, before_any)

    zeros = np.zeros(NOTES_PER_OCTAVE, np.int64)
    total_keys = major_key_histogram(per_step(class_counts, zeros))
    recent_keys = major_key_histogram(per_step(recent_counts, zeros))

    out = np.zeros((steps, self.input_size), np.float32)
    r = self.note_range
    out[position[sounding], sounding_column[sounding]] = 1.0
    out[:, r] = sounding
    out[:, r + 1] = ~sounding
    out[:, r + 2] = attack
    out[:, r + 3] = per_step(direction, 0)
    offset = r + 4
    d = len(self.distances)
    out[:, offset:offset + d] = event_sequence.repeats(ids, self.distances)
    offset += d
    out[:, offset:offset + self.bits] = event_sequence.binary_counters(
        steps, self.bits)
    offset += self.bits
    out[:, offset] = (position + 1) % KEY_BAR_STEPS == 0
    offset += 1
    for keys in (total_keys, recent_keys):
      out[:, offset:offset + NOTES_PER_OCTAVE] = (
          keys == keys.max(axis=1, keepdims=True))
      offset += NOTES_PER_OCTAVE
    return out


def make_encoder(settings):
  """The encoder-decoder of MelodySettings (an event_sequence.SequenceEncoder)."""
  num_events = settings.note_range + NUM_SPECIAL
  if settings.encoder == event_sequence.ONE_HOT:
    return event_sequence.OneHotEncoder(num_events)
  if settings.encoder == event_sequence.LOOKBACK:
    return event_sequence.LookbackEncoder(
        num_events, NO_EVENT_ID, settings.lookback_distances,
        settings.binary_counter_bits)
  return KeyMelodyEncoder(settings.min_note, settings.max_note,
                          settings.lookback_distances,
                          settings.binary_counter_bits)


class MelodyGrammar(codec.Grammar):
  """What a melody may say next: NOTE_OFF only while a note sounds (in
  silence it means nothing: note-seq's `Melody` reads it as NO_EVENT);
  every other id always."""

  def __init__(self, num_events):
    self.width = num_events

  def key(self):
    return (self.width,)

  def initial_state(self, batch, xp):
    return (xp.zeros((batch,), dtype=xp.int32),)

  def update(self, state, tokens, xp):
    (sounding,) = state
    tokens = xp.asarray(tokens, dtype=xp.int32)
    return (xp.asarray(xp.where(tokens >= NUM_SPECIAL, 1, xp.where(
        tokens == NOTE_OFF_ID, 0, sounding)), dtype=xp.int32),)

  def allowed(self, state, xp):
    (sounding,) = state
    ids = xp.arange(self.width, dtype=xp.int32)[None]
    return xp.logical_or(ids != NOTE_OFF_ID, sounding[:, None] > 0)


@codec.register('melody')
class MelodyCodec(event_sequence.EncoderMethods, codec.Codec):
  """NoteSequence ⇄ melody event ids, and the model's inputs and labels
  (module docstring; `event_sequence.EncoderMethods`).

  Example (lookback_rnn):
    codec = MelodyCodec(MAGENTA_CONFIGS['lookback_rnn'])
    ids = codec.encode(sequence)           # int32 [steps], in [0, 38)
    inputs, labels = codec.training_example(ids)   # [steps-1, 121], [steps-1]
    codec.decode(ids)                      # NoteSequence
  """

  settings_class = MelodySettings
  timing = codec.TIMING_METRIC
  def __init__(self, settings=None):
    super().__init__(settings)
    self.encoder = make_encoder(self.settings)

  def empty_primer(self):
    """Magenta's primer when none is given: a middle C for one step
    (`DEFAULT_PRIMER_MELODY`, melody_rnn_generate's `Melody([60])`; a fixed
    note, not a random one), octave-folded into [min_note, max_note) as
    note-seq's squash folds a primer (no key transposition: C is C
    major's)."""
    events, _ = squash(DEFAULT_PRIMER_MELODY, self.settings.min_note,
                       self.settings.max_note, None)
    return self.event_ids(events)

  @property
  def vocab_size(self):
    """The number of event ids: note_range + 2."""
    return self.settings.note_range + NUM_SPECIAL

  def event_ids(self, events):
    """Melody events (a note_seq.Melody or event values) -> int32 ids, as
    `MelodyOneHotEncoding.encode_event` each.

    Raises:
      codec.EncodingError: 'pitch_out_of_range' (a pitch outside
        [min_note, max_note)), 'invalid_melody_event' (a value below -2 or
        above 127).
    """
    events = np.fromiter(events, np.int64)
    if events.size and (events.min() < NO_EVENT
                        or events.max() > constants.MAX_MIDI_PITCH):
      raise codec.EncodingError(
          REASON_INVALID_EVENT, f'melody events must be in [-2, 127], got '
          f'{events.min()}..{events.max()}')
    pitches = events[events >= 0]
    s = self.settings
    if pitches.size and (pitches.min() < s.min_note
                         or pitches.max() >= s.max_note):
      raise codec.EncodingError(
          REASON_PITCH_OUT_OF_RANGE,
          f'pitches {pitches.min()}..{pitches.max()} are not all in '
          f'[{s.min_note}, {s.max_note})')
    return np.where(events >= 0, events - s.min_note + NUM_SPECIAL,
                    events - NO_EVENT).astype(np.int32)

  def melody(self, ids, start_step=0):
    """Event ids -> a note_seq.Melody (4/4 bars of this grid)."""
    ids = self.check_ids(ids)
    events = np.where(ids >= NUM_SPECIAL,
                      ids - NUM_SPECIAL + self.settings.min_note,
                      ids + NO_EVENT)
    spq = self.settings.steps_per_quarter
    return note_seq.Melody(events.tolist(), start_step=start_step,
                           steps_per_quarter=spq, steps_per_bar=4 * spq)

  def encode_with_transposition(self, sequence):
    """(ids, transposition): `encode`'s ids and the semitones its squash
    added (subtract them to give generated notes back their key)."""
    notes = quantize.quantize_sequence(sequence,
                                       self.settings.steps_per_quarter)
    extracted = extract_melody(notes.select(~notes.is_drum))
    s = self.settings
    events, amount = squash(extracted.events, s.min_note, s.max_note,
                            s.transpose_to_key)
    return self.event_ids(events), amount

  def encode(self, sequence):
    """A NoteSequence (seconds) that holds one melody -> its event ids.

    As Magenta's Melody RNN pipeline reads one melody: `extract_melody` of
    every non-drum note (any instrument), no gap ending it, the highest of
    notes starting together; then `squash` into the settings' key and range.

    Returns:
      int32 [steps], one id per step from the first bar with a note to the
      end of the last note; empty for a sequence without notes.

    Raises:
      codec.EncodingError: reasons of quantize.py (the sequence cannot be
        quantized), 'non_integer_steps_per_bar'.
    """
    return self.encode_with_transposition(sequence)[0]

  extracts = True

  def extract(self, sequence, settings):
    """Magenta's Melody RNN data: every melody `extract_melodies` reads
    from a NoteSequence (seconds, one tempo and meter) at the settings'
    grid, each squashed into the key and range (`squash`), its event ids
    an example ({'tokens': ids}, the squash's semitones).

    With MusicVAE's converter settings (`codec.ExtractionSettings`), as its
    OneHotMelodyConverter: a sequence of another meter gives nothing, notes
    of other programs (and with `drop_unencodable_notes` those outside
    [min_note, max_note)) are taken out first, and the examples are the
    windows sliding over each melody (`codec.windows`).

    Raises:
      codec.EncodingError: the sequence cannot be quantized; 'wrong_meter'.
    """
    s = self.settings
    notes = quantize.quantize_sequence(sequence, s.steps_per_quarter)
    codec.check_meter(notes, settings)
    keep = codec.program_mask(notes, settings)
    if settings.drop_unencodable_notes:
      keep &= (notes.pitch >= s.min_note) & (notes.pitch < s.max_note)
    if not keep.all():
      notes = notes.select(keep)
    melodies, dropped, truncated = extract_melodies(notes, settings)
    examples = []
    for found in melodies:
      events, amount = squash(found.events, s.min_note, s.max_note,
                              s.transpose_to_key)
      examples.append(({self.sequence_feature: self.event_ids(events)},
                       amount))
    examples, dropped, duplicates = codec.windows(
        examples, dropped, quantize.steps_per_bar(notes), settings)
    return codec.Extraction(examples, dropped, truncated, duplicates)

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """`MelodyGrammar` (a melody is monophonic, and a note ends at the next
    event that is not NO_EVENT: the other settings have nothing to mask)."""
    del max_polyphony, max_note_duration, renormalise
    return MelodyGrammar(self.vocab_size)

  def decode(self, ids, transposition=0):
    """Event ids -> NoteSequence, by note-seq's `Melody.to_sequence` at the
    settings' qpm (velocity 100), notes moved down by `transposition`
    semitones (what `encode_with_transposition` added)."""
    melody = self.melody(ids)
    if transposition:
      melody.transpose(-transposition)
    return melody.to_sequence(qpm=self.settings.qpm)
