"""Piano rolls for a GAN (MuseGAN-style): fixed-size binary bar segments.

  roll = PianorollCodec().encode(sequence)   # uint8 [segments, 64, 84]
  sequence = PianorollCodec().decode(roll)

A piece is quantized on the metric grid (its own tempo; see quantize.py),
drawn as a [steps, pitches] grid in which every step a note sounds is 1
(onset and held steps alike, no onset channel), and cut from step 0 into
consecutive segments of `num_bars` bars; a final partial segment is dropped.

Semantics worth knowing:
  - Without an onset channel a re-struck note and a held note look the
    same: two notes of one pitch that touch (one ends on the step the next
    starts) or overlap decode as one long note. MuseGAN's rolls behave the
    same. Silent segments are kept.
  - Drum notes and notes outside [min_pitch, max_pitch] are left out;
    `encode_with_stats` counts them.
  - The rows of one segment are the cells of
    `note_seq.pianoroll_lib.PianorollSequence(split_repeats=False)` with the
    same pitch range (tests check it on real MIDI).
  - `vocab_size` is the pitch dimension (the last axis), the only "vocabulary"
    a piano roll has.

Refusals (codec.EncodingError reasons): those of quantize.py, plus
'unsupported_time_signature' (not 4/4 while `require_4_4`) and 'too_short'
(not one whole segment).
"""

import dataclasses

from note_seq import constants
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import quantize

REASON_UNSUPPORTED_TIME_SIGNATURE = 'unsupported_time_signature'
REASON_TOO_SHORT = 'too_short'

# Velocity of every decoded note.
DECODE_VELOCITY = 100


@dataclasses.dataclass(frozen=True)
class PianorollSettings:
  """Settings of the piano-roll codec (saved with every dataset).

  Attributes:
    steps_per_quarter: metric grid, steps per quarter note.
    quarters_per_bar: bar length in quarter notes.
    num_bars: bars per segment.
    min_pitch: MIDI pitch of the first column (inclusive); 24 is C1.
    max_pitch: MIDI pitch of the last column (inclusive); 107 is B7.
    require_4_4: refuse sequences whose time signature is not 4/4 (a
      sequence without one counts as 4/4, as in note-seq). With False any
      meter is cut into bars of `quarters_per_bar` quarters from step 0.
    qpm: tempo used by `decode` only, quarter notes per minute.
  """
  steps_per_quarter: int = 4
  quarters_per_bar: int = 4
  num_bars: int = 4
  min_pitch: int = 24
  max_pitch: int = 107
  require_4_4: bool = True
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    for name in ('steps_per_quarter', 'quarters_per_bar', 'num_bars'):
      if getattr(self, name) <= 0:
        raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
    codec.check_pitch_range(self.min_pitch, self.max_pitch)
    if self.require_4_4 and self.quarters_per_bar != 4:
      raise ValueError('require_4_4 needs quarters_per_bar=4, got '
                       f'{self.quarters_per_bar}')
    if not self.qpm > 0:
      raise ValueError(f'qpm must be > 0, got {self.qpm}')

  @property
  def num_pitches(self):
    return self.max_pitch - self.min_pitch + 1

  @property
  def steps_per_bar(self):
    return self.steps_per_quarter * self.quarters_per_bar

  @property
  def steps_per_segment(self):
    return self.steps_per_bar * self.num_bars


@codec.register('pianoroll')
class PianorollCodec(codec.Codec):
  """NoteSequence ⇄ binary piano-roll segments (see the module docstring)."""

  settings_class = PianorollSettings
  timing = codec.TIMING_METRIC
  sequence_feature = 'pianoroll'
  segmented = True
  step_name = 'steps'

  @property
  def vocab_size(self):
    """Pitch columns per step (84 by default), the roll's last axis."""
    return self.settings.num_pitches

  @property
  def segment_shape(self):
    """(steps, pitches) of one segment: (64, 84) by default."""
    return self.settings.steps_per_segment, self.settings.num_pitches

  def steps_per_bar(self):
    """Steps of one bar of `quarters_per_bar` quarter notes."""
    return self.settings.steps_per_bar

  def encode(self, sequence):
    """Encodes a NoteSequence (seconds) as piano-roll segments.

    Args:
      sequence: an unquantized NoteSequence with one tempo and one time
        signature.

    Returns:
      uint8 array [num_segments, steps_per_segment, num_pitches]: 1 where a
      pitch sounds during a step (onset or held), else 0; segment i covers
      steps [i * steps_per_segment, (i + 1) * steps_per_segment).

    Raises:
      codec.EncodingError: reasons in the module docstring.
    """
    return self.encode_with_stats(sequence)[0]

  def encode_with_stats(self, sequence):
    """Like `encode`, also counting what was left out.

    Args:
      sequence: an unquantized NoteSequence.

    Returns:
      (roll, stats): roll as `encode`; stats a dict of ints: 'notes' (notes
      drawn, including those cut off with a final partial segment),
      'drum_notes_dropped', 'out_of_range_notes_dropped', 'steps' (the
      piece's length in steps), 'steps_dropped' (of a final partial segment).
    """
    settings = self.settings
    notes = quantize.quantize_sequence(sequence, settings.steps_per_quarter)
    if settings.require_4_4 and (notes.numerator,
                                 notes.denominator) != (4, 4):
      raise codec.EncodingError(
          REASON_UNSUPPORTED_TIME_SIGNATURE,
          f'time signature {notes.numerator}/{notes.denominator}, need 4/4')
    segment_steps = settings.steps_per_segment
    num_segments = notes.total_steps // segment_steps
    if not num_segments:
      raise codec.EncodingError(
          REASON_TOO_SHORT,
          f'{notes.total_steps} steps, shorter than one segment of '
          f'{segment_steps}')
    in_range = ((notes.pitch >= settings.min_pitch)
                & (notes.pitch <= settings.max_pitch))
    keep = in_range & ~notes.is_drum
    held, _ = quantize.held_cells(
        notes.pitch[keep] - settings.min_pitch, notes.start_step[keep],
        notes.end_step[keep], num_segments * segment_steps,
        settings.num_pitches)
    roll = held.astype(np.uint8).reshape(num_segments, segment_steps,
                                         settings.num_pitches)
    stats = {
        'notes': int(keep.sum()),
        'drum_notes_dropped': int(notes.is_drum.sum()),
        'out_of_range_notes_dropped': int((~in_range & ~notes.is_drum).sum()),
        'steps': int(notes.total_steps),
        'steps_dropped': int(notes.total_steps - num_segments * segment_steps),
    }
    return roll, stats

  def decode(self, roll, threshold=0.5):
    """Decodes a piano roll to a NoteSequence in seconds.

    Each run of active cells in a pitch column is one note (so re-struck
    notes merge, see the module docstring).

    Args:
      roll: [steps, num_pitches] or [segments, steps, num_pitches] array,
        0/1, bool or probabilities; segments are joined end to end.
      threshold: a cell is active where roll > threshold.

    Returns:
      NoteSequence with times in seconds at `settings.qpm`, a 4/4 time
      signature, velocity 100, `total_time` covering every step of the roll.

    Raises:
      ValueError: the last axis is not num_pitches or the rank is not 2 or 3.
    """
    settings = self.settings
    roll = np.asarray(roll)
    if roll.ndim not in (2, 3) or roll.shape[-1] != settings.num_pitches:
      raise ValueError(
          f'roll must be [steps, {settings.num_pitches}] or [segments, steps, '
          f'{settings.num_pitches}], got shape {roll.shape}')
    held = (roll > threshold).reshape(-1, settings.num_pitches)
    column, start, end, _ = quantize.runs_to_notes(held)
    return quantize.steps_to_sequence(
        column + settings.min_pitch, start, end, settings.steps_per_quarter,
        settings.qpm, total_steps=held.shape[0], velocity=DECODE_VELOCITY)
