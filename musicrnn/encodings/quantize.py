"""Metric quantization of a NoteSequence to numpy arrays, and back (no TF).

`quantize_sequence` is a vectorised twin of note-seq's
`sequences_lib.quantize_note_sequence`: it refuses the same sequences (as
`codec.EncodingError`) and gives the same steps, but returns numpy arrays
instead of a copied proto:

  notes = quantize_sequence(sequence, steps_per_quarter=4)
  notes.pitch, notes.start_step, notes.end_step  # int arrays [num_notes]
  notes.total_steps  # note-seq's total_quantized_steps

The arithmetic is note-seq's, float for float: steps_per_second =
steps_per_quarter * qpm / 60; step = int(seconds * steps_per_second + 0.5)
(truncation toward zero, so a time just below 0 still lands on step 0); a note
whose start and end land on the same step is lengthened to one step.

Refusals, checked in note-seq's order:
  - 'multiple_time_signatures': a time signature differs from the first one
    given, or the earliest one is not at 0 s and is not 4/4 (an implicit change
    from the default 4/4). Repeated identical signatures are allowed.
  - 'bad_time_signature': numerator 0, or a denominator not a power of 2.
  - 'multiple_tempos': a tempo differs from the first one given, or the
    earliest one is not at 0 s and is not 120 qpm. Repeated identical tempos
    are allowed. (As in note-seq, "the first one given" is the first in the
    proto's order, the "earliest" is the first by time; the first given is
    the one used.) To encode a piece with a tempo map, split it first, e.g.
    with note-seq's `split_note_sequence_on_time_changes` as Magenta's
    TimeChangeSplitter does.
  - 'negative_time': a note, control change or text annotation quantizes to a
    negative step.

The module also holds the step-grid helpers the codecs share: `steps_per_bar`
(note-seq's, refusing a bar of a fractional number of steps), `note_cells`
(notes → (note, step) pairs), `held_cells` (notes → a [steps, pitches] grid),
`runs_to_notes` (a grid → notes) and `steps_to_sequence` (steps → a
NoteSequence in seconds).
"""

import dataclasses
import itertools
import operator

from note_seq import constants
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import codec

# note-seq's QUANTIZE_CUTOFF is 0.5: a time rounds up past the half step.
_ROUND_UP = 0.5

REASON_MULTIPLE_TEMPOS = 'multiple_tempos'
REASON_MULTIPLE_TIME_SIGNATURES = 'multiple_time_signatures'
REASON_BAD_TIME_SIGNATURE = 'bad_time_signature'
REASON_NEGATIVE_TIME = 'negative_time'
REASON_NON_INTEGER_STEPS_PER_BAR = 'non_integer_steps_per_bar'


@dataclasses.dataclass(frozen=True, eq=False)
class QuantizedNotes:
  """The notes of one NoteSequence on a metric grid, as parallel arrays.

  Every array has shape [num_notes], in the proto's note order.

  Attributes:
    pitch: MIDI pitch, int32.
    velocity: MIDI velocity, int32.
    start_step: quantized onset in steps from 0 s, int64.
    end_step: quantized offset in steps, int64; always > start_step.
    is_drum: bool.
    instrument: int32.
    program: int32.
    total_steps: note-seq's `total_quantized_steps`: the larger of the
      quantized `total_time` and the last `end_step` (drums included).
    steps_per_quarter: grid resolution, steps per quarter note.
    qpm: the tempo used, quarter notes per minute.
    numerator: time signature numerator (4 when the sequence has none).
    denominator: time signature denominator (4 when the sequence has none).
  """
  pitch: np.ndarray
  velocity: np.ndarray
  start_step: np.ndarray
  end_step: np.ndarray
  is_drum: np.ndarray
  instrument: np.ndarray
  program: np.ndarray
  total_steps: int
  steps_per_quarter: int
  qpm: float
  numerator: int
  denominator: int

  @property
  def num_notes(self):
    return len(self.pitch)

  @property
  def steps_per_second(self):
    return steps_per_second(self.steps_per_quarter, self.qpm)

  def select(self, mask):
    """The notes where `mask` ([num_notes] bool) is true; totals unchanged."""
    arrays = {
        f.name: getattr(self, f.name)[mask]
        for f in dataclasses.fields(self)
        if isinstance(getattr(self, f.name), np.ndarray)}
    return dataclasses.replace(self, **arrays)


def steps_per_second(steps_per_quarter, qpm):
  """note-seq's `steps_per_quarter_to_steps_per_second`, same float ops."""
  return steps_per_quarter * qpm / 60.0


def quantize_seconds(seconds, steps_per_sec):
  """Seconds (float array) -> steps (int64 array), rounding as note-seq.

  note-seq's `quantize_to_step` is `int(seconds * steps_per_second + 0.5)`:
  Python's `int` truncates towards zero, and so does the cast here, so
  -0.007 s gives step 0, not -1.
  """
  return (np.asarray(seconds, np.float64) * steps_per_sec
          + _ROUND_UP).astype(np.int64)


def _earliest_and_later(times):
  """Indices by time: the earliest event, then the later ones (stable sort)."""
  order = np.argsort(times, kind='stable')
  return order[0], order[1:]


def _check_time_signature(sequence):
  """note-seq's time signature checks; returns (numerator, denominator)."""
  signatures = sequence.time_signatures
  if not signatures:
    return 4, 4
  values = np.array([(ts.time, ts.numerator, ts.denominator)
                     for ts in signatures], np.float64)
  earliest, later = _earliest_and_later(values[:, 0])
  if values[earliest, 0] != 0 and not (values[earliest, 1] == 4
                                       and values[earliest, 2] == 4):
    raise codec.EncodingError(
        REASON_MULTIPLE_TIME_SIGNATURES,
        'implicit change from 4/4 to %d/%d at %.2f s' % (
            values[earliest, 1], values[earliest, 2], values[earliest, 0]))
  # note-seq compares the later signatures with the first one *given*.
  numerator = signatures[0].numerator
  denominator = signatures[0].denominator
  changed = ((values[later, 1] != numerator)
             | (values[later, 2] != denominator))
  if changed.any():
    i = later[np.argmax(changed)]
    raise codec.EncodingError(
        REASON_MULTIPLE_TIME_SIGNATURES,
        'time signature changes from %d/%d to %d/%d at %.2f s' % (
            numerator, denominator, values[i, 1], values[i, 2], values[i, 0]))
  if denominator <= 0 or denominator & (denominator - 1):
    raise codec.EncodingError(
        REASON_BAD_TIME_SIGNATURE,
        f'denominator is not a power of 2: {numerator}/{denominator}')
  if numerator == 0:
    raise codec.EncodingError(
        REASON_BAD_TIME_SIGNATURE, f'numerator is 0: {numerator}/{denominator}')
  return numerator, denominator


def _check_tempo(sequence):
  """note-seq's tempo checks; returns the one tempo in qpm."""
  tempos = sequence.tempos
  if not tempos:
    return constants.DEFAULT_QUARTERS_PER_MINUTE
  values = np.array([(t.time, t.qpm) for t in tempos], np.float64)
  earliest, later = _earliest_and_later(values[:, 0])
  if (values[earliest, 0] != 0
      and values[earliest, 1] != constants.DEFAULT_QUARTERS_PER_MINUTE):
    raise codec.EncodingError(
        REASON_MULTIPLE_TEMPOS,
        'implicit change from 120 qpm to %.1f qpm at %.2f s' % (
            values[earliest, 1], values[earliest, 0]))
  qpm = tempos[0].qpm
  changed = values[later, 1] != qpm
  if changed.any():
    i = later[np.argmax(changed)]
    raise codec.EncodingError(
        REASON_MULTIPLE_TEMPOS,
        'tempo changes from %.1f qpm to %.1f qpm at %.2f s' % (
            qpm, values[i, 1], values[i, 0]))
  return qpm


_NOTE_FIELDS = operator.attrgetter(
    'pitch', 'velocity', 'start_time', 'end_time', 'is_drum', 'instrument',
    'program')
_TIME = operator.attrgetter('time')
_NOTE_DTYPE = np.dtype([
    ('pitch', np.int32), ('velocity', np.int32), ('start_time', np.float64),
    ('end_time', np.float64), ('is_drum', bool), ('instrument', np.int32),
    ('program', np.int32)])


def _note_table(notes):
  """The proto's notes as a structured array [num_notes] (one pass)."""
  return np.fromiter(map(_NOTE_FIELDS, notes), _NOTE_DTYPE, count=len(notes))


def quantize_sequence(sequence, steps_per_quarter):
  """Quantizes an unquantized NoteSequence relative to its tempo.

  Args:
    sequence: a NoteSequence with times in seconds.
    steps_per_quarter: steps per quarter note (int, > 0).

  Returns:
    QuantizedNotes, with the steps note-seq's `quantize_note_sequence` gives.

  Raises:
    codec.EncodingError: a sequence note-seq refuses to quantize; `reason` is
      one of the REASON_* constants of this module.
  """
  numerator, denominator = _check_time_signature(sequence)
  qpm = _check_tempo(sequence)
  rate = steps_per_second(steps_per_quarter, qpm)

  table = _note_table(sequence.notes)
  start_step = quantize_seconds(table['start_time'], rate)
  end_step = quantize_seconds(table['end_time'], rate)
  end_step += end_step == start_step
  if len(table) and min(start_step.min(), end_step.min()) < 0:
    raise codec.EncodingError(
        REASON_NEGATIVE_TIME, 'a note starts or ends at a negative step')
  event_times = np.fromiter(
      map(_TIME, itertools.chain(sequence.control_changes,
                                 sequence.text_annotations)), np.float64)
  if len(event_times) and quantize_seconds(event_times, rate).min() < 0:
    raise codec.EncodingError(
        REASON_NEGATIVE_TIME,
        'a control change or text annotation is at a negative step')

  total_steps = int(sequence.total_time * rate + _ROUND_UP)
  if len(end_step):
    total_steps = max(total_steps, int(end_step.max()))
  return QuantizedNotes(
      pitch=table['pitch'],
      velocity=table['velocity'],
      start_step=start_step,
      end_step=end_step,
      is_drum=table['is_drum'],
      instrument=table['instrument'],
      program=table['program'],
      total_steps=total_steps,
      steps_per_quarter=steps_per_quarter,
      qpm=qpm,
      numerator=numerator,
      denominator=denominator)


def steps_per_bar(notes):
  """Steps in a bar of `notes` (QuantizedNotes), an int: note-seq's
  `steps_per_bar_in_quantized_sequence`, same float operations.

  Raises:
    codec.EncodingError: reason 'non_integer_steps_per_bar' where a bar is
      not a whole number of steps (note-seq's NonIntegerStepsPerBarError,
      e.g. 7/8 at 1 step a quarter note).
  """
  quarters_per_bar = 4.0 / notes.denominator * notes.numerator
  steps = notes.steps_per_quarter * quarters_per_bar
  if steps % 1 != 0:
    raise codec.EncodingError(
        REASON_NON_INTEGER_STEPS_PER_BAR,
        f'{steps} steps a bar: {notes.numerator}/{notes.denominator} at '
        f'{notes.steps_per_quarter} steps a quarter note')
  return int(steps)


def note_cells(start_step, end_step):
  """Every (note, step) pair where a note sounds, without a Python loop.

  Args:
    start_step: [num_notes] int, first step of each note.
    end_step: [num_notes] int, step after the last one (an end not after
      the start gives no cells).

  Returns:
    (note_index, step): [num_cells] int64 arrays, note by note, each note's
    steps ascending; num_cells = sum(end_step - start_step).
  """
  start = np.asarray(start_step, np.int64)
  length = np.maximum(np.asarray(end_step, np.int64) - start, 0)
  note_index = np.repeat(np.arange(len(start)), length)
  offset = (np.arange(len(note_index))
            - np.repeat(np.cumsum(length) - length, length))
  return note_index, start[note_index] + offset


def held_cells(pitch_index, start_step, end_step, num_steps, num_pitches):
  """Marks where notes sound on a step grid.

  Args:
    pitch_index: [num_notes] int, column of each note in [0, num_pitches).
    start_step: [num_notes] int, first step of each note.
    end_step: [num_notes] int, step after the last one; > start_step.
    num_steps: rows of the grid; notes are clipped to [0, num_steps).
    num_pitches: columns of the grid.

  Returns:
    (held, onset): [num_steps, num_pitches] bool grids; `held` is true at
    every step a note sounds (the union of overlapping notes), `onset` at the
    first step of each note.
  """
  pitch_index = np.asarray(pitch_index, np.int64)
  start = np.asarray(start_step, np.int64)
  note_index, step = note_cells(start, np.minimum(end_step, num_steps))
  held = np.zeros((num_steps, num_pitches), bool)
  held[step, pitch_index[note_index]] = True
  onset = np.zeros((num_steps, num_pitches), bool)
  inside = start < num_steps
  onset[start[inside], pitch_index[inside]] = True
  return held, onset


def runs_to_notes(held, onset=None):
  """Reads notes off a step grid: each run of held cells is one note.

  A run ends where the column stops being held; with `onset`, a run also
  breaks before every onset cell, so a re-struck pitch gives two notes.

  Args:
    held: [num_steps, num_pitches] bool.
    onset: optional [num_steps, num_pitches] bool; only cells that are also
      held count.

  Returns:
    (pitch_index, start_step, end_step, starts_with_onset): [num_notes]
    arrays sorted by start step, then pitch. `starts_with_onset` is true for
    runs whose first cell is an onset (all true when `onset` is None).
  """
  held = np.asarray(held, bool)
  onset = (held if onset is None else np.asarray(onset, bool) & held)
  prev_held = np.zeros_like(held)
  prev_held[1:] = held[:-1]
  next_held = np.zeros_like(held)
  next_held[:-1] = held[1:]
  if onset is held:
    first = held & ~prev_held
    last = held & ~next_held
  else:
    next_onset = np.zeros_like(onset)
    next_onset[:-1] = onset[1:]
    first = held & (~prev_held | onset)
    last = held & (~next_held | next_onset)
  # Pitch-major order pairs the i-th run start with the i-th run end.
  pitch_index, start_step = np.nonzero(first.T)
  _, last_step = np.nonzero(last.T)
  starts_with_onset = onset[start_step, pitch_index]
  order = np.lexsort((pitch_index, start_step))
  return (pitch_index[order], start_step[order], last_step[order] + 1,
          starts_with_onset[order])


def steps_to_sequence(pitch, start_step, end_step, steps_per_quarter, qpm,
                      total_steps=0, velocity=100):
  """Builds an unquantized NoteSequence from notes on a step grid.

  Args:
    pitch: [num_notes] int, MIDI pitch.
    start_step: [num_notes] int, onset in steps.
    end_step: [num_notes] int, offset in steps.
    steps_per_quarter: grid resolution, steps per quarter note.
    qpm: tempo, quarter notes per minute; step s lies at
      s * 60 / qpm / steps_per_quarter seconds.
    total_steps: length in steps; `total_time` covers it and every note.
    velocity: MIDI velocity of every note.

  Returns:
    A NoteSequence in seconds with one tempo (`qpm`), a 4/4 time signature
    and ticks_per_quarter 220, notes in the order given.
  """
  seconds_per_step = 60.0 / qpm / steps_per_quarter
  sequence = music_pb2.NoteSequence(ticks_per_quarter=constants.STANDARD_PPQ)
  sequence.tempos.add(time=0.0, qpm=qpm)
  sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
  start_time = np.asarray(start_step, np.float64) * seconds_per_step
  end_time = np.asarray(end_step, np.float64) * seconds_per_step
  note_class = music_pb2.NoteSequence.Note
  sequence.notes.extend([
      note_class(pitch=p, velocity=velocity, start_time=s, end_time=e)
      for p, s, e in zip(np.asarray(pitch).tolist(), start_time.tolist(),
                         end_time.tolist())])
  last = int(np.max(end_step)) if len(end_step) else 0
  sequence.total_time = max(total_steps, last) * seconds_per_step
  return sequence
