"""Magenta's Polyphony RNN encoding: one token per sounding note per step.

The token stream of Magenta's `PolyphonicSequence` (polyphony_rnn/
polyphony_lib.py) in the one-hot layout of its `PolyphonyOneHotEncoding`,
rebuilt with numpy (no Magenta, no TF):

  id 0                      START     first token of every sequence
  id 1                      END       last token
  id 2                      STEP_END  closes one metric step (a 16th note at
                                      the default 4 steps per quarter)
  ids 3 .. 3+P-1            NEW_NOTE(min_pitch .. max_pitch)
  ids 3+P .. 3+2P-1         CONTINUED_NOTE(min_pitch .. max_pitch)

where P = max_pitch - min_pitch + 1; the defaults (pitches 0..127) give
Magenta's 259 classes with Magenta's ids.

Event order. The sequence is quantized on the metric grid (the sequence's own
tempo; see quantize.py) and walked step by step from step 0 to note-seq's
`total_quantized_steps` (the quantized `total_time`, or the last note end if
later), exactly as Magenta's `_from_quantized_sequence`: each step emits one
token per pitch sounding in it, NEW_NOTE where a note starts at this step and
CONTINUED_NOTE where a note that started earlier is still held, all of them
(new and continued mixed) sorted by pitch, highest first, then STEP_END. A
silent step is a lone STEP_END. So a C major triad held for two steps is

  START NEW(67) NEW(64) NEW(60) STEP_END
        CONTINUED(67) CONTINUED(64) CONTINUED(60) STEP_END END

Where we differ from Magenta (only for degenerate input):
  - Drum notes are left out (Magenta's polyphony code keeps them); notes
    outside [min_pitch, max_pitch] are left out (Magenta has the full range).
    Both are counted by `encode_with_stats`.
  - Each (step, pitch) gives at most one token. Two notes of one pitch
    starting at one step give one NEW_NOTE (Magenta: two); a note re-struck
    while an earlier note of its pitch is still held gives only NEW_NOTE at
    the re-strike (Magenta also continues the earlier note), and the pitch
    then sounds until the last of the overlapping notes ends. (Magenta's own
    decoder cannot recover such notes from its tokens either.)
"""

import dataclasses

from note_seq import constants
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import quantize

START = 0
END = 1
STEP_END = 2
NUM_SPECIAL_TOKENS = 3

# Velocity of every decoded note, as Magenta's `to_sequence` default.
DECODE_VELOCITY = 100


@dataclasses.dataclass(frozen=True)
class PolyphonySettings:
  """Settings of the polyphony codec (saved with every dataset).

  Attributes:
    steps_per_quarter: metric grid, steps per quarter note.
    min_pitch: lowest MIDI pitch with tokens (inclusive).
    max_pitch: highest MIDI pitch with tokens (inclusive).
    qpm: tempo used by `decode` only, quarter notes per minute; `encode`
      quantizes with the sequence's own tempo.
  """
  steps_per_quarter: int = 4
  min_pitch: int = constants.MIN_MIDI_PITCH
  max_pitch: int = constants.MAX_MIDI_PITCH
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    if self.steps_per_quarter <= 0:
      raise ValueError(
          f'steps_per_quarter must be > 0, got {self.steps_per_quarter}')
    codec.check_pitch_range(self.min_pitch, self.max_pitch)
    if not self.qpm > 0:
      raise ValueError(f'qpm must be > 0, got {self.qpm}')

  @property
  def num_pitches(self):
    return self.max_pitch - self.min_pitch + 1


@codec.register('polyphony')
class PolyphonyCodec(codec.Codec):
  """NoteSequence ⇄ Polyphony RNN token ids (see the module docstring)."""

  settings_class = PolyphonySettings
  timing = codec.TIMING_METRIC

  # The event that ends a sequence: a primer is encoded without it, and
  # generation never draws it (it would cut the output short).
  end_id = END

  def empty_primer(self):
    """START, as every encoded sequence begins."""
    return [START]

  @property
  def vocab_size(self):
    """Number of token ids: 3 + 2 * num_pitches (259 by default)."""
    return NUM_SPECIAL_TOKENS + 2 * self.settings.num_pitches

  def new_note_id(self, pitch):
    """Token id of NEW_NOTE(pitch); pitch is a MIDI number or an array."""
    return NUM_SPECIAL_TOKENS + np.asarray(pitch) - self.settings.min_pitch

  def continued_note_id(self, pitch):
    """Token id of CONTINUED_NOTE(pitch); pitch is a MIDI number or array."""
    return (NUM_SPECIAL_TOKENS + self.settings.num_pitches
            + np.asarray(pitch) - self.settings.min_pitch)

  def token_name(self, token):
    """A readable name for one id: 'START', 'NEW(60)', 'CONTINUED(60)'..."""
    token = int(token)
    if not 0 <= token < self.vocab_size:
      raise ValueError(f'token {token} not in [0, {self.vocab_size})')
    if token < NUM_SPECIAL_TOKENS:
      return ('START', 'END', 'STEP_END')[token]
    kind, offset = divmod(token - NUM_SPECIAL_TOKENS, self.settings.num_pitches)
    return '%s(%d)' % (('NEW', 'CONTINUED')[kind],
                       offset + self.settings.min_pitch)

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """The polyphony grammar (`PolyphonyGrammar`, whose masked probability
    goes to every allowed id either way); notes end when a step leaves them
    out, so there is no cap to follow."""
    del max_note_duration, renormalise
    return PolyphonyGrammar(self.settings.num_pitches, max_polyphony)

  def encode(self, sequence):
    """Encodes a NoteSequence (seconds) as token ids.

    Args:
      sequence: an unquantized NoteSequence with one tempo and one time
        signature (note-seq's conditions for metric quantization).

    Returns:
      int32 array [num_events]: START, the tokens of each step, END.

    Raises:
      codec.EncodingError: the sequence cannot be quantized (reasons in
        quantize.py).
    """
    return self.encode_with_stats(sequence)[0]

  counts_steps = True

  def num_steps(self, ids):
    """Steps of `ids`: its STEP_END tokens."""
    return int(np.count_nonzero(np.asarray(ids) == STEP_END))

  def encode_with_stats(self, sequence):
    """Like `encode`, also counting what was left out.

    Args:
      sequence: an unquantized NoteSequence.

    Returns:
      (ids, stats): ids as `encode`; stats a dict of ints: 'notes' (notes
      encoded), 'drum_notes_dropped', 'out_of_range_notes_dropped', 'steps'
      (number of STEP_END tokens).
    """
    settings = self.settings
    notes = quantize.quantize_sequence(sequence, settings.steps_per_quarter)
    in_range = ((notes.pitch >= settings.min_pitch)
                & (notes.pitch <= settings.max_pitch))
    keep = in_range & ~notes.is_drum
    num_steps = notes.total_steps
    num_pitches = settings.num_pitches
    column = (notes.pitch[keep] - settings.min_pitch).astype(np.int64)
    start = notes.start_step[keep]

    # One cell per note per step it sounds: NEW at its first step, CONTINUED
    # after. A sort key orders cells by step, then pitch descending (Magenta's
    # order within a step), then NEW before CONTINUED; of the cells of one
    # (step, pitch) only the first is kept, so an onset wins over a held note.
    note_index, step = quantize.note_cells(start, notes.end_step[keep])
    cell = step * num_pitches + (num_pitches - 1 - column[note_index])
    is_continued = step > start[note_index]
    key = np.sort(cell * 2 + is_continued)
    cell, is_continued = np.divmod(key, 2)
    first = np.ones(len(cell), bool)
    first[1:] = cell[1:] != cell[:-1]
    cell, is_continued = cell[first], is_continued[first]
    step, reversed_column = np.divmod(cell, num_pitches)
    tokens = (NUM_SPECIAL_TOKENS + is_continued * num_pitches
              + (num_pitches - 1 - reversed_column))

    # Each step's cells are followed by its STEP_END: a cell's position is
    # START + the cells before it + the STEP_ENDs before it.
    ids = np.empty(len(tokens) + num_steps + 2, np.int32)
    ids[0] = START
    ids[-1] = END
    ids[1 + np.arange(len(tokens)) + step] = tokens
    cells_per_step = np.bincount(step, minlength=num_steps)
    ids[np.cumsum(cells_per_step) + np.arange(num_steps) + 1] = STEP_END
    stats = {
        'notes': int(keep.sum()),
        'drum_notes_dropped': int(notes.is_drum.sum()),
        'out_of_range_notes_dropped': int((~in_range & ~notes.is_drum).sum()),
        'steps': int(num_steps),
    }
    return ids, stats

  def decode(self, ids):
    """Decodes token ids to a NoteSequence in seconds.

    A NEW_NOTE starts a note; a CONTINUED_NOTE of the same pitch in the next
    step extends it, and so on; the note ends at the first step without one
    (or with a NEW_NOTE of its pitch, which starts a new note). As in
    Magenta's `to_sequence`: START tokens are ignored, a CONTINUED_NOTE of a
    pitch not sounding is ignored, repeated tokens in one step count once.
    Unlike Magenta (which skips a non-final END and reads on), everything
    from the first END on is ignored; a last step without its STEP_END still
    counts.

    Args:
      ids: int array-like [num_events] in [0, vocab_size).

    Returns:
      NoteSequence with times in seconds at `settings.qpm`, a 4/4 time
      signature, velocity 100; `total_time` covers every STEP_END.

    Raises:
      ValueError: ids out of range or not one-dimensional.
    """
    settings = self.settings
    ids = np.asarray(ids)
    if not ids.size:
      ids = ids.astype(np.int64)
    if ids.ndim != 1:
      raise ValueError(f'ids must be 1-D, got shape {ids.shape}')
    if ids.size and (not np.issubdtype(ids.dtype, np.integer)
                     or ids.min() < 0 or ids.max() >= self.vocab_size):
      raise ValueError(f'ids must be integers in [0, {self.vocab_size})')
    ends = np.flatnonzero(ids == END)
    if len(ends):
      ids = ids[:ends[0]]
    is_step_end = ids == STEP_END
    step_of_token = np.cumsum(is_step_end) - is_step_end
    num_step_ends = int(is_step_end.sum())

    pitched = ids >= NUM_SPECIAL_TOKENS
    kind, column = np.divmod(ids[pitched] - NUM_SPECIAL_TOKENS,
                             settings.num_pitches)
    step = step_of_token[pitched]
    num_steps = max(num_step_ends, int(step.max()) + 1 if len(step) else 0)
    held = np.zeros((num_steps, settings.num_pitches), bool)
    held[step, column] = True
    onset = np.zeros_like(held)
    onset[step[kind == 0], column[kind == 0]] = True
    column, start, end, led_by_onset = quantize.runs_to_notes(held, onset)
    return quantize.steps_to_sequence(
        column[led_by_onset] + settings.min_pitch, start[led_by_onset],
        end[led_by_onset], settings.steps_per_quarter, settings.qpm,
        total_steps=num_step_ends, velocity=DECODE_VELOCITY)


class PolyphonyGrammar(codec.Grammar):
  """What a polyphonic sequence may say next, given the tokens so far.

  The state, per sequence: the pitches with a token in the previous step
  (those that sound into this one), those with a token in this step, and
  the lowest pitch named in this step so far (the encoder names a step's
  pitches highest first; one past the highest before any, two before the
  first token). Ruled out:

    START after the first token (Magenta's decoder ignores it);
    CONTINUED_NOTE of a pitch that did not sound in the previous step
      (Magenta's decoder ignores it: there is no note to continue);
    a NEW_NOTE or CONTINUED_NOTE not below the step's last pitch: a pitch
      named twice in a step (read once, or as two overlapping notes by
      Magenta's decoder) or out of the encoder's order;
    with `max_polyphony` N > 0, a pitch token once the step names N.

  END is left to the generator, which bans it.
  """

  def __init__(self, num_pitches, max_polyphony=0):
    self.num_pitches = num_pitches
    self.width = NUM_SPECIAL_TOKENS + 2 * num_pitches
    self.max_polyphony = max_polyphony

  def key(self):
    return (self.num_pitches, self.max_polyphony)

  def initial_state(self, batch, xp):
    silent = xp.zeros((batch, self.num_pitches), dtype=xp.bool_)
    return (silent, silent,
            xp.full((batch,), self.num_pitches + 1, dtype=xp.int32))

  def update(self, state, tokens, xp):
    previous, current, lowest = state
    tokens = xp.asarray(tokens, dtype=xp.int32)
    step_end = (tokens == STEP_END)[:, None]
    pitched = tokens >= NUM_SPECIAL_TOKENS
    column = (tokens - NUM_SPECIAL_TOKENS) % self.num_pitches
    named = xp.logical_and(
        pitched[:, None],
        xp.arange(self.num_pitches, dtype=xp.int32)[None] == column[:, None])
    current = xp.logical_or(current, named)
    return (xp.where(step_end, current, previous),
            xp.logical_and(current, xp.logical_not(step_end)),
            xp.asarray(xp.where(pitched, column,
                                xp.where(xp.logical_or(step_end[:, 0],
                                                       lowest > self.num_pitches),
                                         self.num_pitches, lowest)),
                       dtype=xp.int32))

  def allowed(self, state, xp):
    previous, current, lowest = state
    count = xp.asarray(xp.sum(xp.asarray(current, dtype=xp.int32), axis=1),
                       dtype=xp.int32)
    room = xp.logical_or(self.max_polyphony <= 0, count < self.max_polyphony)
    below = xp.logical_and(
        xp.arange(self.num_pitches, dtype=xp.int32)[None] < lowest[:, None],
        room[:, None])
    first = (lowest > self.num_pitches)[:, None]
    others = xp.ones_like(first)
    allowed = xp.concatenate(
        [first, others, others, below, xp.logical_and(below, previous)], axis=1)
    return xp.logical_or(allowed, xp.logical_not(xp.any(allowed, axis=1))[:, None])
