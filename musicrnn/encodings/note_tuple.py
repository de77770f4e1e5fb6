"""Note tuples for the note/offset/duration LSTM: one step per onset.

  codec = NoteTupleCodec().with_vocabulary(chord_counts)   # from training data
  ids = codec.encode(sequence)     # int32 [onsets]: one id per onset
  codec.split(ids)                 # (chord, offset, duration) ids
  sequence = codec.decode(ids)

Each onset of a piece (the notes that start together, on a grid of
`onset_grid` steps a quarter note at the piece's tempo) is one step of three
parts:
  chord     the set of pitches starting there, an index into
            `chord_vocabulary` (built from the training data with a size
            cap, `with_vocabulary`); 0 is "other", a set not in it;
  offset    quarter notes since the previous onset (the first: since the
            start), the nearest of `offset_values`;
  duration  the longest of its notes in quarter notes, the nearest of
            `duration_values`.
The three ids are packed into one token, (chord * offsets + offset) *
durations + duration, so the dataset, tf.data and sampling pipelines carry
it as any token; the model's heads split it again (`split`).

Semantics worth knowing:
  - Every note of a chord decodes with the chord's duration; offsets and
    durations are rounded to the nearest value of their vocabulary, so a
    round trip keeps pitches and onset order, not exact times.
  - An "other" chord decodes to no notes, its offset still moves time on.
  - Drum notes are left out. A piece without a note is refused ('too_short').
  - Times are in quarter notes at the piece's first tempo (split pieces at
    tempo changes first, `data.split_on_time_changes`); `decode` writes
    seconds at `qpm`.
"""

import collections
import dataclasses

from note_seq import constants
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import codec

REASON_TOO_SHORT = 'too_short'
OTHER = 0
# Velocity of every decoded note.
DECODE_VELOCITY = 100

# Note values in quarter notes: triplets, dotted values, up to two bars of 4/4.
OFFSET_VALUES = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0,
                 6.0, 8.0)
DURATION_VALUES = (0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
                   8.0)


@dataclasses.dataclass(frozen=True)
class NoteTupleSettings:
  """Settings of the note-tuple codec (saved with every dataset).

  Attributes:
    offset_values: quarter notes an offset is rounded to (ascending).
    duration_values: quarter notes a duration is rounded to (ascending).
    chord_vocabulary: the known chords, each a sorted tuple of MIDI pitches;
      id i + 1 is chord i, id 0 "other". Empty until `with_vocabulary`.
    max_chords: the vocabulary's size cap (the most frequent chords).
    onset_grid: steps a quarter note on which onsets group into chords.
    qpm: tempo used by `decode` only, quarter notes per minute.
  """
  offset_values: tuple = OFFSET_VALUES
  duration_values: tuple = DURATION_VALUES
  chord_vocabulary: tuple = ()
  max_chords: int = 256
  onset_grid: int = 12
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    # JSON gives lists: keep tuples, so settings stay hashable and equal.
    object.__setattr__(self, 'offset_values',
                       tuple(float(v) for v in self.offset_values))
    object.__setattr__(self, 'duration_values',
                       tuple(float(v) for v in self.duration_values))
    object.__setattr__(self, 'chord_vocabulary', tuple(
        tuple(int(p) for p in chord) for chord in self.chord_vocabulary))
    for name in ('offset_values', 'duration_values'):
      values = getattr(self, name)
      if not values or list(values) != sorted(set(values)) or values[0] < 0:
        raise ValueError(f'{name} must be ascending, distinct and >= 0, got {values}')
    if self.duration_values[0] <= 0:
      raise ValueError('duration_values must be > 0')
    if self.max_chords < 1:
      raise ValueError(f'max_chords must be >= 1, got {self.max_chords}')
    if len(self.chord_vocabulary) > self.max_chords:
      raise ValueError(f'{len(self.chord_vocabulary)} chords, more than '
                       f'max_chords={self.max_chords}')
    for chord in self.chord_vocabulary:
      if not chord or list(chord) != sorted(set(chord)):
        raise ValueError(f'a chord is a sorted tuple of distinct pitches, got {chord}')
      codec.check_pitch_range(chord[0], chord[-1])
    if self.onset_grid < 1:
      raise ValueError(f'onset_grid must be >= 1, got {self.onset_grid}')
    if not self.qpm > 0:
      raise ValueError(f'qpm must be > 0, got {self.qpm}')


def _nearest(values, x):
  """Index of the nearest of `values` to each of `x` (the lower on a tie)."""
  return np.argmin(np.abs(np.asarray(x)[:, None] - np.asarray(values)[None]),
                   axis=1)


@codec.register('note_tuple')
class NoteTupleCodec(codec.Codec):
  """NoteSequence ⇄ one (chord, offset, duration) token per onset (see the
  module docstring)."""

  settings_class = NoteTupleSettings
  timing = codec.TIMING_TEMPO
  step_name = 'onsets'
  learned_settings = ('chord_vocabulary',)

  @property
  def head_sizes(self):
    """(chords incl. "other", offsets, durations): the three vocabularies."""
    s = self.settings
    return (len(s.chord_vocabulary) + 1, len(s.offset_values),
            len(s.duration_values))

  @property
  def vocab_size(self):
    chords, offsets, durations = self.head_sizes
    return chords * offsets * durations

  def pack(self, chord, offset, duration):
    """Token ids of (chord, offset, duration) id arrays."""
    _, offsets, durations = self.head_sizes
    return ((np.asarray(chord) * offsets + np.asarray(offset)) * durations
            + np.asarray(duration)).astype(np.int32)

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """The note-tuple grammar (`NoteTupleGrammar`, whose masked probability
    goes to the other chords either way); durations are always written, so
    there is no cap to follow."""
    del max_note_duration, renormalise
    return NoteTupleGrammar(self, max_polyphony)

  def split(self, ids):
    """(chord, offset, duration) id arrays of token ids."""
    _, offsets, durations = self.head_sizes
    ids = np.asarray(ids, np.int64)
    return ids // (offsets * durations), ids // durations % offsets, ids % durations

  def empty_primer(self):
    """One step: an "other" chord at the start, of the shortest duration."""
    return self.pack([OTHER], [0], [0])

  def onsets(self, sequence):
    """[(onset in quarter notes, chord tuple, duration in quarters)] of a
    NoteSequence's non-drum notes, by onset."""
    qpm = sequence.tempos[0].qpm if sequence.tempos else constants.DEFAULT_QUARTERS_PER_MINUTE
    grid = self.settings.onset_grid
    groups = collections.defaultdict(lambda: (set(), 0.0))
    for note in sequence.notes:
      if note.is_drum:
        continue
      start = int(round(note.start_time * qpm / 60.0 * grid))
      pitches, longest = groups[start]
      pitches.add(note.pitch)
      groups[start] = (pitches, max(longest,
                                    (note.end_time - note.start_time) * qpm / 60.0))
    return [(start / grid, tuple(sorted(pitches)), duration)
            for start, (pitches, duration) in sorted(groups.items())]

  def chords(self, sequence):
    """The chord tuple of each onset (what `with_vocabulary` counts)."""
    return [chord for _, chord, _ in self.onsets(sequence)]

  def vocabulary_items(self, sequence):
    return self.chords(sequence)

  def with_counts(self, counts):
    return self.with_vocabulary(counts)

  def describe_learned(self, counts):
    known = set(self.settings.chord_vocabulary)
    total = sum(counts.values())
    covered = sum(n for chord, n in counts.items() if chord in known)
    share = covered / max(total, 1)
    line = (f'{len(known)} chords kept of {len(counts)} distinct: '
            f'{100 * share:.1f}% of the {total:,} onsets counted; the rest '
            'are "other"')
    if share < 0.9 and len(known) < len(counts):
      line += (' (decoded as silence; keep more with '
               '--config.encoding.settings.max_chords)')
    return line

  def with_vocabulary(self, chord_counts):
    """This codec with the `max_chords` most frequent chords of
    {chord tuple: count} as its vocabulary (ties broken by the chords'
    order, so the same counts give the same codec)."""
    ranked = sorted(chord_counts.items(), key=lambda item: (-item[1], item[0]))
    vocabulary = tuple(chord for chord, _ in ranked[:self.settings.max_chords])
    return NoteTupleCodec(dataclasses.replace(self.settings,
                                              chord_vocabulary=vocabulary))

  def encode(self, sequence):
    """One token per onset (int32 [onsets]).

    Raises:
      codec.EncodingError: 'too_short', a sequence without a (non-drum) note.
    """
    onsets = self.onsets(sequence)
    if not onsets:
      raise codec.EncodingError(REASON_TOO_SHORT, 'the sequence has no note')
    settings = self.settings
    index = {chord: i + 1 for i, chord in enumerate(settings.chord_vocabulary)}
    starts = np.array([start for start, _, _ in onsets])
    chord = np.array([index.get(c, OTHER) for _, c, _ in onsets])
    offset = _nearest(settings.offset_values, np.diff(starts, prepend=0.0))
    duration = _nearest(settings.duration_values,
                        np.array([d for _, _, d in onsets]))
    return self.pack(chord, offset, duration)

  def decode(self, ids):
    """A NoteSequence in seconds at `settings.qpm`: each step's chord (none
    for "other") at the running sum of the offsets, for its duration."""
    settings = self.settings
    chord, offset, duration = self.split(ids)
    seconds_per_quarter = 60.0 / settings.qpm
    sequence = music_pb2.NoteSequence(ticks_per_quarter=constants.STANDARD_PPQ)
    sequence.tempos.add(time=0.0, qpm=settings.qpm)
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    onset = np.cumsum(np.asarray(settings.offset_values)[offset])
    end = 0.0
    for start, c, d in zip(onset, chord, np.asarray(settings.duration_values)[duration]):
      if c == OTHER or c > len(settings.chord_vocabulary):
        continue
      for pitch in settings.chord_vocabulary[c - 1]:
        sequence.notes.add(pitch=pitch, velocity=DECODE_VELOCITY,
                           start_time=float(start * seconds_per_quarter),
                           end_time=float((start + d) * seconds_per_quarter))
      end = max(end, (start + d) * seconds_per_quarter)
    sequence.total_time = float(end)
    return sequence



class NoteTupleGrammar(codec.Grammar):
  """What the next onset may be, over the model's heads side by side
  (chords, offsets, durations): the chord "other", which decodes to no
  notes, is ruled out, and with `max_polyphony` N > 0 so are the chords of
  more than N pitches. Every offset and duration means something, whatever
  came before, so the state is empty."""

  def __init__(self, note_tuple_codec, max_polyphony=0):
    self.head_sizes = note_tuple_codec.head_sizes
    self.width = sum(self.head_sizes)
    self.max_polyphony = max_polyphony
    self.chord_sizes = np.array(
        [0] + [len(chord) for chord in note_tuple_codec.settings.chord_vocabulary],
        np.int32)

  def key(self):
    return (self.head_sizes, tuple(self.chord_sizes.tolist()),
            self.max_polyphony)

  def initial_state(self, batch, xp):
    return (xp.zeros((batch,), dtype=xp.int32),)

  def allows(self, state, tokens):
    """bool [batch]: whether every part of each packed token is allowed."""
    allowed = self.allowed(state, np)
    _, offsets, durations = self.head_sizes
    tokens = np.asarray(tokens, np.int64)
    parts = (tokens // (offsets * durations), tokens // durations % offsets,
             tokens % durations)
    rows = np.arange(len(tokens))
    ok = np.ones(len(tokens), bool)
    for start, part in zip(np.cumsum((0,) + self.head_sizes[:-1]), parts):
      ok &= allowed[rows, start + part]
    return ok

  def update(self, state, tokens, xp):
    del tokens
    return state

  def allowed(self, state, xp):
    sizes = xp.asarray(self.chord_sizes)[None]
    chords = xp.logical_and(
        sizes > 0, xp.logical_or(self.max_polyphony <= 0,
                                 sizes <= self.max_polyphony))
    # The chord "other" stays where no chord is small enough.
    chords = xp.logical_or(chords, xp.logical_and(
        xp.logical_not(xp.any(chords, axis=1, keepdims=True)), sizes == 0))
    rest = xp.ones((1, self.width - self.head_sizes[0]), dtype=xp.bool_)
    allowed = xp.concatenate([chords, rest], axis=1)
    # One row per sequence of the batch.
    return xp.logical_and(allowed, xp.ones_like(state[0], dtype=xp.bool_)[:, None])
