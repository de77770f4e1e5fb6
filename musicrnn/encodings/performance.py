"""Performance events: Performance RNN's vocabulary, vectorised with numpy.

A performance is a stream of events on an absolute time grid of
`steps_per_second` steps per second (100 by default, i.e. 10 ms steps):

  NOTE_ON(pitch)    a note of `pitch` starts at the current step
  NOTE_OFF(pitch)   a note of `pitch` ends at the current step
  TIME_SHIFT(n)     the current step advances by n, 1 <= n <= max_shift_steps
  VELOCITY(bin)     later NOTE_ONs get velocity bin `bin`, 1 <= bin <= bins

Token ids follow Magenta's layout, exactly the index that note-seq's
`PerformanceOneHotEncoding(num_velocity_bins, max_shift_steps, min_pitch,
max_pitch).encode_event` gives:

  [0, P)                      NOTE_ON   min_pitch .. max_pitch
  [P, 2P)                     NOTE_OFF  min_pitch .. max_pitch
  [2P, 2P + S)                TIME_SHIFT 1 .. S           (S = max_shift_steps)
  [2P + S, 2P + S + V)        VELOCITY  1 .. V            (V = num_velocity_bins)

where P = max_pitch - min_pitch + 1. With the defaults that is 356 tokens, and
388 with 32 velocity bins.

`PerformanceCodec.encode` gives the same ids, token for token, as note-seq's
`quantize_note_sequence_absolute` + `performance_lib.Performance` + one-hot
`encode_event`, and `decode` the same notes as `Performance.to_sequence`;
tests/test_performance_encoding.py proves both on real MIDI. Both run in
numpy without a Python loop per note or per event (reading the notes out of,
and writing them into, the protocol buffer aside).
"""

import dataclasses
import math
import operator

from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import quantize

MIN_MIDI_PITCH = 0
MAX_MIDI_PITCH = 127
MIN_MIDI_VELOCITY = 1
MAX_MIDI_VELOCITY = 127
# note-seq's Performance rejects more bins than MIDI velocities.
MAX_NUM_VELOCITY_BINS = MAX_MIDI_VELOCITY - MIN_MIDI_VELOCITY + 1
# What note-seq's `Performance.to_sequence` gives notes when the performance
# has no VELOCITY events (its `velocity` argument's default).
DEFAULT_VELOCITY = 100
# Magenta's Performance RNN generator ends a note its sampled events never
# turn off after 5 s (performance_lib.MAX_NOTE_DURATION_SECONDS); without a
# cap such a note sounds to the end of the file.
MAX_NOTE_DURATION_SECONDS = 5.0
# note-seq's NoteSequence.ticks_per_quarter for generated sequences.
STANDARD_PPQ = 220

# Event types; the values are note-seq's `PerformanceEvent` constants.
NOTE_ON = 1
NOTE_OFF = 2
TIME_SHIFT = 3
VELOCITY = 4

# Reasons for `codec.EncodingError`.
REASON_INVALID_TIME = 'invalid_time'
REASON_NEGATIVE_TIME = 'negative_time'
REASON_PITCH_OUT_OF_RANGE = 'pitch_out_of_range'
REASON_VELOCITY_OUT_OF_RANGE = 'velocity_out_of_range'

_NOTE_FIELDS = operator.attrgetter('pitch', 'velocity', 'start_time',
                                   'end_time')


@dataclasses.dataclass(frozen=True)
class PerformanceSettings:
  """How notes become performance events (Magenta's defaults).

  Attributes:
    steps_per_second: time grid, in steps per second (an int, as note-seq's
      `QuantizationInfo.steps_per_second` is).
    max_shift_steps: longest TIME_SHIFT token, in steps; longer gaps take
      several tokens.
    num_velocity_bins: number of VELOCITY tokens; 0 leaves velocity out.
    min_pitch: lowest MIDI pitch in the vocabulary.
    max_pitch: highest MIDI pitch in the vocabulary.
  """
  steps_per_second: int = 100
  max_shift_steps: int = 100
  num_velocity_bins: int = 0
  min_pitch: int = MIN_MIDI_PITCH
  max_pitch: int = MAX_MIDI_PITCH

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{field.name} must be an int, got {value!r}')
    if self.steps_per_second < 1:
      raise ValueError(f'steps_per_second must be >= 1: {self.steps_per_second}')
    if self.max_shift_steps < 1:
      raise ValueError(f'max_shift_steps must be >= 1: {self.max_shift_steps}')
    if not 0 <= self.num_velocity_bins <= MAX_NUM_VELOCITY_BINS:
      raise ValueError(f'num_velocity_bins must be in [0, '
                       f'{MAX_NUM_VELOCITY_BINS}]: {self.num_velocity_bins}')
    codec.check_pitch_range(self.min_pitch, self.max_pitch)


def velocity_bin_size(num_velocity_bins):
  """MIDI velocities per bin, note-seq's `_velocity_bin_size`."""
  return int(math.ceil(MAX_NUM_VELOCITY_BINS / num_velocity_bins))


def velocity_to_bin(velocity, num_velocity_bins):
  """MIDI velocity (1..127; int or int array) -> bin, 1-based, as note-seq."""
  return ((np.asarray(velocity) - MIN_MIDI_VELOCITY)
          // velocity_bin_size(num_velocity_bins) + 1)


def velocity_bin_to_velocity(velocity_bin, num_velocity_bins):
  """Velocity bin (1-based; int or int array) -> the bin's lowest velocity."""
  return (MIN_MIDI_VELOCITY + (np.asarray(velocity_bin) - 1)
          * velocity_bin_size(num_velocity_bins))


def note_arrays(sequence):
  """The notes of a NoteSequence as numpy arrays, in the sequence's order.

  Args:
    sequence: a `music_pb2.NoteSequence`.

  Returns:
    (pitch, velocity, start_time, end_time): int64, int64, float64, float64
    arrays of shape [num_notes]; times in seconds.
  """
  if not sequence.notes:
    return (np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros(0, np.float64), np.zeros(0, np.float64))
  # A repeated message field has no bulk accessor; one attrgetter call per
  # note (in C, through map) is the fastest way out of the protocol buffer.
  # float64 holds the int32 pitch and velocity exactly.
  fields = np.array(list(map(_NOTE_FIELDS, sequence.notes)), np.float64)
  return (fields[:, 0].astype(np.int64), fields[:, 1].astype(np.int64),
          fields[:, 2].copy(), fields[:, 3].copy())


@codec.register('performance')
class PerformanceCodec(codec.Codec):
  """Performance events <-> token ids, identical to note-seq's.

  Example:
    codec = PerformanceCodec(PerformanceSettings(num_velocity_bins=32))
    ids = codec.encode(sequence)    # int32 [num_events], in [0, 388)
    notes = codec.decode(ids)       # NoteSequence, times in seconds
  """

  settings_class = PerformanceSettings
  timing = codec.TIMING_SECONDS

  def __init__(self, settings=PerformanceSettings()):
    super().__init__(settings)
    s = settings
    self.num_pitches = s.max_pitch - s.min_pitch + 1
    self.note_on_offset = 0
    self.note_off_offset = self.num_pitches
    self.time_shift_offset = 2 * self.num_pitches
    self.velocity_offset = self.time_shift_offset + s.max_shift_steps
    self.vocab_size = self.velocity_offset + s.num_velocity_bins
    # Event type and value of every id, for `events`.
    self._id_types = np.repeat(
        np.array([NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY], np.int8),
        [self.num_pitches, self.num_pitches, s.max_shift_steps,
         s.num_velocity_bins])
    self._id_values = np.concatenate([
        np.arange(s.min_pitch, s.max_pitch + 1),
        np.arange(s.min_pitch, s.max_pitch + 1),
        np.arange(1, s.max_shift_steps + 1),
        np.arange(1, s.num_velocity_bins + 1)]).astype(np.int64)

  @property
  def steps_per_second(self):
    return self.settings.steps_per_second

  # Token ids of single events (value may be an int or an int array).

  def note_on_id(self, pitch):
    """Id of NOTE_ON(pitch), min_pitch <= pitch <= max_pitch."""
    return self.note_on_offset + np.asarray(pitch) - self.settings.min_pitch

  def note_off_id(self, pitch):
    """Id of NOTE_OFF(pitch), min_pitch <= pitch <= max_pitch."""
    return self.note_off_offset + np.asarray(pitch) - self.settings.min_pitch

  def empty_primer(self):
    """The shortest time shift."""
    return [self.time_shift_id(1)]

  def decode_generated(self, ids, max_note_duration=None,
                       restrike_ends_note=True):
    """`decode` of ids a model generated, with notes left on capped at
    `max_note_duration` (0 or None: they last to the end).

    With `restrike_ends_note` (the reading of `grammar()`), a NOTE_ON of a
    pitch that sounds ends the sounding note there and starts a new one, as
    a piano key struck again does; without it the two notes overlap and the
    earlier one waits for a NOTE_OFF of its own (note-seq's reading, which
    `decode` keeps)."""
    if restrike_ends_note:
      ids = self.restrikes_ended(ids)
    return self.decode(ids, max_note_duration=max_note_duration or None)

  def restrikes_ended(self, ids):
    """`ids` with a NOTE_OFF put before every NOTE_ON of a pitch whose last
    NOTE_ON or NOTE_OFF was a NOTE_ON: the sounding note ends where the
    pitch is struck again (`decode_generated`)."""
    ids = np.asarray(ids, np.int64).reshape(-1)
    types, values = self.events(ids)
    notes = np.flatnonzero((types == NOTE_ON) | (types == NOTE_OFF))
    # Each pitch's NOTE_ONs and NOTE_OFFs, in time order within a pitch.
    notes = notes[np.argsort(values[notes], kind='stable')]
    same_pitch = np.zeros(len(notes), bool)
    same_pitch[1:] = values[notes[1:]] == values[notes[:-1]]
    is_on = types[notes] == NOTE_ON
    restruck = same_pitch & is_on & np.roll(is_on, 1)
    positions = notes[restruck]
    return np.insert(ids, positions, self.note_off_id(values[positions])).astype(
        np.int32)

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """The performance grammar (`PerformanceGrammar`)."""
    return PerformanceGrammar(self, max_polyphony, max_note_duration,
                              renormalise)

  input_vector_kinds = ('modulo',)

  def input_vectors(self, kind):
    """float32 [vocab_size, width] for kind 'modulo' (16 wide with velocity
    bins, 13 without): Performance RNN's modulo
    encoding (Magenta's `performance_with_dynamics_and_modulo_encoding`),
    equal to note-seq's `ModuloPerformanceEventSequenceEncoderDecoder`
    input of each id's event. Each event type has a block: a valid bit,
    then a point on a circle per value (NOTE_ON and NOTE_OFF: the pitch on
    a circle of 144 and its pitch class on one of 12; TIME_SHIFT and
    VELOCITY: the value on a circle of max_shift_steps or bins).

    Raises:
      ValueError: another kind, or a pitch range other than note-seq's
        0..127 (the encoding is defined on that range only).
    """
    if kind not in self.input_vector_kinds:
      return super().input_vectors(kind)
    s = self.settings
    if (s.min_pitch, s.max_pitch) != (MIN_MIDI_PITCH, MAX_MIDI_PITCH):
      raise ValueError(
          'the modulo encoding covers pitches '
          f'{MIN_MIDI_PITCH}..{MAX_MIDI_PITCH}, as note-seq\'s; this codec '
          f'has {s.min_pitch}..{s.max_pitch}')
    types, values = self.events(np.arange(self.vocab_size))
    # Each type's block: its first column, and the value each circle reads.
    blocks = {NOTE_ON: 0, NOTE_OFF: 5, TIME_SHIFT: 10, VELOCITY: 13}
    vectors = np.zeros((self.vocab_size, 16 if s.num_velocity_bins else 13))
    rows = np.arange(self.vocab_size)
    start = np.array([blocks[t] for t in types])
    vectors[rows, start] = 1.0
    circles = [(np.isin(types, (NOTE_ON, NOTE_OFF)), values, 144, 1),
               (np.isin(types, (NOTE_ON, NOTE_OFF)), values % 12, 12, 3),
               (types == TIME_SHIFT, values - 1, s.max_shift_steps, 1),
               (types == VELOCITY, values - 1, max(s.num_velocity_bins, 1), 1)]
    for chosen, value, size, column in circles:
      angle = 2.0 * np.pi * value[chosen] / size
      vectors[rows[chosen], start[chosen] + column] = np.cos(angle)
      vectors[rows[chosen], start[chosen] + column + 1] = np.sin(angle)
    return vectors.astype(np.float32)

  def time_shift_id(self, steps):
    """Id of TIME_SHIFT(steps), 1 <= steps <= max_shift_steps."""
    return self.time_shift_offset + np.asarray(steps) - 1

  def velocity_id(self, velocity_bin):
    """Id of VELOCITY(velocity_bin), 1 <= velocity_bin <= num_velocity_bins."""
    if not self.settings.num_velocity_bins:
      raise ValueError('this codec has no velocity bins')
    return self.velocity_offset + np.asarray(velocity_bin) - 1

  def id_ranges(self):
    """{event type name: (first id, last id + 1)}, the vocabulary's layout."""
    ranges = {
        'NOTE_ON': (self.note_on_offset, self.note_off_offset),
        'NOTE_OFF': (self.note_off_offset, self.time_shift_offset),
        'TIME_SHIFT': (self.time_shift_offset, self.velocity_offset),
    }
    if self.settings.num_velocity_bins:
      ranges['VELOCITY'] = (self.velocity_offset, self.vocab_size)
    return ranges

  def events(self, ids):
    """Splits token ids into event types and values.

    Args:
      ids: int array [num_events] of token ids in [0, vocab_size).

    Returns:
      (types, values): int8 [num_events] of NOTE_ON, NOTE_OFF, TIME_SHIFT,
      VELOCITY, and int64 [num_events] of pitches, steps or velocity bins.

    Raises:
      ValueError: an id outside [0, vocab_size).
    """
    ids = np.asarray(ids, np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
      raise ValueError(f'token ids must be in [0, {self.vocab_size}); got '
                       f'{ids.min()}..{ids.max()}')
    return self._id_types[ids], self._id_values[ids]

  def encode(self, sequence):
    """Encodes an unquantized NoteSequence, exactly as note-seq does.

    Notes are quantized to `int(seconds * steps_per_second + 0.5)` steps
    (a zero-length note lengthened to one step) and sorted by (start time in
    seconds, pitch), stably; their onsets and offsets are ordered by (step,
    note index, offset after onset). Each step change gives TIME_SHIFT tokens
    (max_shift_steps long, the last one the remainder), each onset whose
    velocity bin differs from the previous onset's (the first from bin 0) a
    VELOCITY token. Nothing follows the last NOTE_OFF. Instruments, programs
    and drums are all merged, as note-seq's `Performance(instrument=None)`.

    Args:
      sequence: a `music_pb2.NoteSequence`, times in seconds.

    Returns:
      int32 array [num_events] of token ids in [0, vocab_size); empty for a
      sequence without notes.

    Raises:
      codec.EncodingError: reason `invalid_time` (a NaN or infinite time),
        `negative_time` (a note before step 0; note-seq raises
        NegativeTimeError), `pitch_out_of_range` (a pitch outside [min_pitch,
        max_pitch]: note-seq raises for pitches outside [0, 127] and gives
        ids of the wrong event type for the others), `velocity_out_of_range`
        (with velocity bins, a velocity outside [1, 127], whose bin note-seq
        would get wrong or reject).
    """
    s = self.settings
    pitch, velocity, start_time, end_time = note_arrays(sequence)
    if not pitch.size:
      return np.zeros(0, np.int32)
    self._check_notes(pitch, velocity, start_time, end_time)

    start = quantize.quantize_seconds(start_time, s.steps_per_second)
    end = quantize.quantize_seconds(end_time, s.steps_per_second)
    end[end == start] += 1
    if start.min() < 0 or end.min() < 0:
      raise codec.EncodingError(
          REASON_NEGATIVE_TIME,
          f'a note starts or ends before step 0 (first step {start.min()}, '
          f'{end.min()})')

    # Notes by (start time in seconds, pitch); stable like Python's sorted.
    # (uint8 keys sort by radix.)
    order = np.argsort(pitch.astype(np.uint8), kind='stable')
    order = order[np.argsort(start_time[order], kind='stable')]
    start, end, pitch, velocity = (
        start[order], end[order], pitch[order], velocity[order])

    # Onset of note i is event 2i, its offset 2i + 1: a stable sort by step
    # orders events by (step, note index, is_offset), note-seq's key.
    num_notes = len(pitch)
    event_steps = np.empty(2 * num_notes, np.int64)
    event_steps[0::2] = start
    event_steps[1::2] = end
    event_order = np.argsort(event_steps, kind='stable')
    step = event_steps[event_order]
    note = event_order >> 1
    is_offset = (event_order & 1).astype(bool)

    # TIME_SHIFT tokens before each event: ceil(gap / max_shift_steps).
    gap = np.diff(step, prepend=0)
    num_shifts = -(-gap // s.max_shift_steps)
    last_shift = gap - s.max_shift_steps * (num_shifts - 1)

    # A VELOCITY token before an onset whose bin differs from the last one.
    if s.num_velocity_bins:
      onsets = np.flatnonzero(~is_offset)
      onset_bins = velocity_to_bin(velocity[note[onsets]], s.num_velocity_bins)
      changed = onset_bins != np.concatenate([[0], onset_bins[:-1]])
      has_velocity = np.zeros(len(step), bool)
      has_velocity[onsets[changed]] = True
      velocity_ids = self.velocity_id(onset_bins[changed])
    else:
      has_velocity = np.zeros(len(step), bool)

    # Lay the tokens out: each event is [shifts..., velocity?, note].
    counts = num_shifts + has_velocity + 1
    ends = np.cumsum(counts)
    ids = np.full(ends[-1], self.time_shift_id(s.max_shift_steps), np.int64)
    shifted = num_shifts > 0
    ids[(ends - counts + num_shifts - 1)[shifted]] = self.time_shift_id(
        last_shift[shifted])
    if s.num_velocity_bins:
      ids[(ends - 2)[has_velocity]] = velocity_ids
    ids[ends - 1] = np.where(is_offset, self.note_off_id(pitch[note]),
                             self.note_on_id(pitch[note]))
    return ids.astype(np.int32)

  def _check_notes(self, pitch, velocity, start_time, end_time):
    s = self.settings
    if not (np.isfinite(start_time).all() and np.isfinite(end_time).all()):
      raise codec.EncodingError(REASON_INVALID_TIME,
                                'a note time is NaN or infinite')
    if pitch.min() < s.min_pitch or pitch.max() > s.max_pitch:
      raise codec.EncodingError(
          REASON_PITCH_OUT_OF_RANGE,
          f'pitches {pitch.min()}..{pitch.max()} are not all in '
          f'[{s.min_pitch}, {s.max_pitch}]')
    if s.num_velocity_bins and (velocity.min() < MIN_MIDI_VELOCITY
                                or velocity.max() > MAX_MIDI_VELOCITY):
      raise codec.EncodingError(
          REASON_VELOCITY_OUT_OF_RANGE,
          f'velocities {velocity.min()}..{velocity.max()} are not all in '
          f'[{MIN_MIDI_VELOCITY}, {MAX_MIDI_VELOCITY}]')

  def decode_notes(self, ids, velocity=DEFAULT_VELOCITY,
                   max_note_duration=None):
    """The notes that token ids describe, as note-seq's `to_sequence` makes.

    TIME_SHIFTs advance the step, a VELOCITY sets the velocity of later
    NOTE_ONs (`velocity` before any), a NOTE_OFF ends the earliest started
    note of its pitch still on (one with none on is ignored), and notes still
    on at the end end at the final step. Zero-length notes are dropped.

    Args:
      ids: int array [num_events] of token ids.
      velocity: MIDI velocity of notes before any VELOCITY token.
      max_note_duration: if set, notes longer than this many seconds are
        shortened to it.

    Returns:
      (pitch, velocity, start_time, end_time): int64, int64, float64, float64
      arrays [num_notes], in note-seq's note order (notes ended by a NOTE_OFF,
      in its order, then the rest by first mention of their pitch); times in
      seconds.
    """
    types, values = self.events(ids)
    n = len(types)
    if not n:
      return (np.zeros(0, np.int64), np.zeros(0, np.int64),
              np.zeros(0, np.float64), np.zeros(0, np.float64))
    shifts = np.where(types == TIME_SHIFT, values, 0)
    step_before = np.cumsum(shifts) - shifts  # the step each event happens at
    final_step = step_before[-1] + shifts[-1]

    # Velocity in force at each event: the last VELOCITY token's, if any.
    is_velocity = types == VELOCITY
    last_velocity = np.maximum.accumulate(
        np.where(is_velocity, np.arange(n), -1))
    if self.settings.num_velocity_bins:
      velocity_of_bin = velocity_bin_to_velocity(values[last_velocity],
                                                 self.settings.num_velocity_bins)
    else:
      velocity_of_bin = np.zeros(n, np.int64)
    current_velocity = np.where(last_velocity >= 0, velocity_of_bin, velocity)

    # NOTE_ON/NOTE_OFF tokens grouped by pitch, in time order within a pitch.
    is_note = (types == NOTE_ON) | (types == NOTE_OFF)
    note_pos = np.flatnonzero(is_note)
    note_pos = note_pos[np.argsort(values[note_pos].astype(np.uint8),
                                   kind='stable')]
    note_pitch = values[note_pos]
    is_on = types[note_pos] == NOTE_ON
    # Notes on per pitch after each token: a running count of +1 (ON) and -1
    # (OFF) held at 0, since an OFF with none on is ignored. That is the
    # plain running sum minus its running minimum (when below 0), per pitch.
    first_of_pitch = np.ones(len(note_pos), bool)
    first_of_pitch[1:] = note_pitch[1:] != note_pitch[:-1]
    group = np.cumsum(first_of_pitch) - 1  # [notes], pitch group index
    delta = np.where(is_on, 1, -1)
    total = np.cumsum(delta)
    group_start = np.flatnonzero(first_of_pitch)
    running = total - (total - delta)[group_start][group]  # per pitch
    # A segmented running minimum: lower each later pitch group far below
    # every earlier one, so the minimum restarts at each group.
    big = 2 * len(note_pos) + 2
    running_min = np.minimum.accumulate(running - group * big) + group * big
    on_count = running - np.minimum(running_min, 0)
    on_before = np.where(first_of_pitch, 0, np.roll(on_count, 1))
    valid_off = ~is_on & (on_before > 0)

    # First in, first out: the k-th valid OFF of a pitch ends its k-th ON.
    ons = note_pos[is_on]
    on_pitch = note_pitch[is_on]
    offs = note_pos[valid_off]
    off_pitch = note_pitch[valid_off]
    off_rank = np.arange(len(offs)) - np.searchsorted(off_pitch, off_pitch)
    matched = np.searchsorted(on_pitch, off_pitch) + off_rank
    end_pos = np.full(len(ons), -1)
    end_pos[matched] = offs
    start_step = step_before[ons]
    end_step = np.where(end_pos >= 0, step_before[end_pos], final_step)
    keep = end_step != start_step

    # note-seq's order: ended notes by their NOTE_OFF; then the rest by the
    # first token (ON or OFF) naming their pitch, then by their NOTE_ON.
    first_mention = np.full(MAX_MIDI_PITCH + 1, n)
    np.minimum.at(first_mention, note_pitch, note_pos)
    primary = np.where(end_pos >= 0, end_pos, n + first_mention[on_pitch])
    order = np.lexsort((ons, primary))
    order = order[keep[order]]

    seconds_per_step = 1.0 / self.settings.steps_per_second
    start_time = start_step[order] * seconds_per_step
    end_time = end_step[order] * seconds_per_step
    if max_note_duration:
      end_time = np.where(end_time - start_time > max_note_duration,
                          start_time + max_note_duration, end_time)
    return (on_pitch[order], current_velocity[ons[order]].astype(np.int64),
            start_time, end_time)

  def decode(self, ids, velocity=DEFAULT_VELOCITY, max_note_duration=None,
             program=0, instrument=0, is_drum=False):
    """Token ids -> NoteSequence, as note-seq's `Performance.to_sequence`.

    Args:
      ids: int array [num_events] of token ids in [0, vocab_size).
      velocity: MIDI velocity of notes before any VELOCITY token (all notes
        when num_velocity_bins is 0).
      max_note_duration: if set, notes longer than this many seconds are
        shortened to it.
      program: MIDI program of every note (note-seq's default: that of the
        source sequence if it had one, else 0).
      instrument: instrument of every note.
      is_drum: whether every note is a drum.

    Returns:
      A `music_pb2.NoteSequence` (times in seconds, no tempo, like note-seq's)
      whose notes are in note-seq's order; see `decode_notes`.
    """
    pitch, note_velocity, start_time, end_time = self.decode_notes(
        ids, velocity, max_note_duration)
    sequence = music_pb2.NoteSequence(ticks_per_quarter=STANDARD_PPQ)
    add = sequence.notes.add
    # One proto message per note is unavoidable here; the work is above.
    for p, v, start, end in zip(pitch.tolist(), note_velocity.tolist(),
                                start_time.tolist(), end_time.tolist()):
      add(pitch=p, velocity=v, start_time=start, end_time=end,
          instrument=instrument, program=program, is_drum=is_drum)
    if len(end_time):
      sequence.total_time = max(float(end_time.max()), 0.0)
    return sequence


def _is_zero(setting):
  """Whether a grammar setting is a number known to be 0 or None (a tensor,
  a SavedModel's input, may be anything): its rule needs no work."""
  return setting is None or (isinstance(setting, (int, float)) and setting == 0)


class PerformanceGrammar(codec.Grammar):
  """What a performance may say next, given the events so far.

  The state, per sequence: the step at which the last note of each pitch
  started (-1: ended), the current step, the current velocity bin (0
  before any) and the previous id (-1 before any); a note sounds until it
  ends or has been on `max_note_duration`. A NOTE_ON of a sounding
  pitch ends that note and starts a new one (`decode_generated`'s reading);
  a note still on `max_note_duration` after it started has ended (as the
  generator's cap ends it). Ruled out, each because it cannot mean anything
  there or because the encoder never writes it:

    NOTE_OFF of a pitch that is silent, or whose note started at this step
      (a zero-length note, which decoding drops);
    NOTE_ON of a pitch whose note started at this step (the same note);
    with `max_polyphony` N > 0, NOTE_ON of a silent pitch while N sound;
    VELOCITY of the bin in force (a no-op), or where no NOTE_ON could
      follow it;
    after a VELOCITY, anything but a NOTE_ON (the encoder writes a VELOCITY
      right before the onset it is for; another VELOCITY would make it a
      no-op);
    TIME_SHIFT right after a TIME_SHIFT shorter than the longest (the
      encoder spells a gap as longest shifts, then the remainder).

  Where a primer leaves nothing allowed, everything is.

  The probability a model gives NOTE_OFFs stays with the NOTE_OFFs of the
  sounding notes (`type_groups`, unless `renormalise` is RENORMALISE_ALL):
  a young model has learned when to end a note long before it learns which
  notes sound, and spreads its NOTE_OFF over every pitch.
  """

  def __init__(self, performance_codec, max_polyphony=0, max_note_duration=None,
               renormalise=codec.RENORMALISE_BY_TYPE):
    self.codec = performance_codec
    self.width = performance_codec.vocab_size
    self.type_groups = (
        ((performance_codec.note_off_offset, performance_codec.time_shift_offset),)
        if renormalise == codec.RENORMALISE_BY_TYPE else ())
    self.max_polyphony = max_polyphony
    # The cap in steps (a float; 0: none).
    self.max_note_steps = (0.0 if max_note_duration is None else
                           max_note_duration * performance_codec.steps_per_second)

  def key(self):
    return (self.codec, self.max_polyphony, self.max_note_steps,
            self.type_groups)

  def initial_state(self, batch, xp):
    c = self.codec
    return (xp.full((batch, c.num_pitches), -1, dtype=xp.int32),
            xp.zeros((batch,), dtype=xp.int32),
            xp.zeros((batch,), dtype=xp.int32),
            xp.full((batch,), -1, dtype=xp.int32))

  def update(self, state, tokens, xp):
    c = self.codec
    start, time, velocity, _ = state
    tokens = xp.asarray(tokens, dtype=xp.int32)
    pitches = xp.arange(c.num_pitches, dtype=xp.int32)[None]
    is_on = tokens < c.note_off_offset
    is_shift = xp.logical_and(tokens >= c.time_shift_offset,
                              tokens < c.velocity_offset)
    # A NOTE_ON or NOTE_OFF (ids below the shifts) hits its pitch's column.
    column = xp.where(is_on, tokens, tokens - c.note_off_offset)
    hit = xp.logical_and(pitches == column[:, None],
                         (tokens < c.time_shift_offset)[:, None])
    start = xp.where(hit, xp.where(is_on, time, -1)[:, None], start)
    time = time + xp.where(is_shift, tokens - c.time_shift_offset + 1, 0)
    velocity = xp.where(tokens >= c.velocity_offset,
                        tokens - c.velocity_offset + 1, velocity)
    return (xp.asarray(start, dtype=xp.int32), xp.asarray(time, dtype=xp.int32),
            xp.asarray(velocity, dtype=xp.int32), tokens)

  def allowed(self, state, xp):
    c = self.codec
    start, time, velocity, last = state
    batch_ones = xp.ones_like(last, dtype=xp.bool_)[:, None]
    sounding = start >= 0
    if not _is_zero(self.max_note_steps):
      # Notes on for the cap's length have ended.
      held = xp.asarray(time[:, None] - start, dtype=xp.float32)
      sounding = xp.logical_and(sounding, xp.logical_or(
          self.max_note_steps <= 0, held < self.max_note_steps))
    begun_now = xp.logical_and(sounding, start == time[:, None])
    after_velocity = last >= c.velocity_offset
    after_short_shift = xp.logical_and(last >= c.time_shift_offset,
                                       last < c.velocity_offset - 1)
    note_on = xp.logical_not(begun_now)
    if not _is_zero(self.max_polyphony):
      count = xp.asarray(xp.sum(xp.asarray(sounding, dtype=xp.int32), axis=1),
                         dtype=xp.int32)
      room = xp.logical_or(self.max_polyphony <= 0, count < self.max_polyphony)
      note_on = xp.logical_and(xp.logical_or(room[:, None], sounding), note_on)
    note_off = xp.logical_and(
        xp.logical_and(sounding, xp.logical_not(begun_now)),
        xp.logical_not(after_velocity)[:, None])
    shift = xp.logical_and(
        batch_ones, xp.logical_not(xp.logical_or(after_velocity,
                                                 after_short_shift))[:, None])
    bins = xp.arange(1, c.settings.num_velocity_bins + 1, dtype=xp.int32)[None]
    velocity_ok = xp.logical_and(bins != velocity[:, None],
                                 xp.logical_not(after_velocity)[:, None])
    if not _is_zero(self.max_polyphony):
      # No VELOCITY where no NOTE_ON could follow it.
      velocity_ok = xp.logical_and(velocity_ok,
                                   xp.any(note_on, axis=1)[:, None])
    allowed = xp.concatenate(
        [note_on, note_off,
         xp.logical_and(shift, xp.ones((1, c.settings.max_shift_steps),
                                       dtype=xp.bool_)),
         velocity_ok], axis=1)
    return xp.logical_or(allowed, xp.logical_not(xp.any(allowed, axis=1))[:, None])
