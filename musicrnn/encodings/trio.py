"""Magenta's MusicVAE trios: a melody, a bass and drums together, one id a
step (numpy, no TF).

A trio step holds one id of each of three parts, Magenta's TrioConverter's
(music_vae/data.py), whose outputs are the parts' one-hots side by side:

  melody  90 ids: OneHotMelodyConverter's, note-seq's
          MelodyOneHotEncoding(21, 109): 0 NO_EVENT, 1 NOTE_OFF, 2 + pitch
          - 21 for MIDI 21..108 (melody.py's one-hot ids)
  bass    the same 90 ids, of the bass instrument
  drums   512 ids: DrumsConverter's, note-seq's MultiDrumOneHotEncoding,
          bit j set when a drum of type j of the nine is struck (drums.py)

The three are packed into one token, as the note tuple packs its parts:

  id = (melody * 90 + bass) * 512 + drums       (4,147,200 ids)

(`pack`, `split`; `part_sizes` (90, 90, 512)). So the dataset pipeline
(windows, dedupe, counts), the TFRecords ('tokens', one int64 a step, at
most 4 bytes), tf.data and the sampling loop carry a trio step as any
token, and only the model splits it again (`Codec.part_sizes`; MusicVAE's
encoder reads the three one-hots side by side, 692 wide, and its decoder
has one output per part). Storing the parts as extra feature lists (as the
lead sheet stores its chords) would not do: those are what a model is
given, aligned with the next step and fed as vectors, where every part of
a trio is predicted.

`extract` reads a sequence (one tempo and meter) as TrioConverter does:

  - a bar of another length than `quarters_per_bar` (4 quarter notes:
    16 steps) gives nothing ('wrong_meter');
  - the sequence spans ceil(total steps / bar) bars, cut to max_steps'
    bars (Magenta's max_bars, 1024);
  - each instrument is typed by its notes: drums (is_drum), melody (a
    program of `melody_programs`, Magenta's MEL_PROGRAMS 0-31), bass (of
    `bass_programs`, BASS_PROGRAMS 32-39); an instrument of any other
    program is not read, one whose notes are of two kinds is neither
    (counted 'instrument_of_mixed_types');
  - a sequence without an instrument of each type gives nothing
    ('no_melody_instrument', 'no_bass_instrument', 'no_drums_instrument');
  - each instrument is encoded alone over the whole sequence, from step 0
    to the end of its last bar, as the melody and drums converters inside
    TrioConverter read it (no gap ends it): a melody of its notes of MIDI
    21..108, the highest of notes starting together, each cut where the
    next starts, a NOTE_OFF after its last; drums of the pitches of the
    nine types. One with nothing to encode is left out
    ('no_encodable_melody_notes', ..._bass_..., ..._drums_...);
  - an instrument covers a bar where one of its notes (any pitch) sounds,
    and the bars within `gap_bars` (2) of one; for a trio of a melody, a
    bass and a drums instrument (every such trio, in instrument order)
    each of its first and last gap_bars bars is covered where any of the
    three plays in them;
  - the examples are the windows of `window_bars` (16) bars, sliding a
    bar at a time, that all three instruments of a trio cover; a trio
    with none is counted ('track_shorter_than_window' for a sequence
    shorter than a window, else 'trio_not_covered');
  - with `dedupe`, each distinct window of a sequence once (Magenta keeps
    repeats, and draws five windows of a sequence a read).

`decode` writes Magenta's `from_tensors`: the melody on instrument 0
(program 0), the bass on instrument 1 (program 33, electric bass), the
drums on instrument 9, velocity 80.
"""

import dataclasses
import itertools
import math

from note_seq import constants
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import drums as drums_lib
from musicrnn.encodings import event_sequence
from musicrnn.encodings import melody as melody_lib
from musicrnn.encodings import quantize

# The parts, in the order of their ids.
MELODY, BASS, DRUMS = 0, 1, 2
PARTS = ('melody', 'bass', 'drums')
# Magenta's MEL_PROGRAMS (piano, chromatic percussion, organ, guitar) and
# BASS_PROGRAMS; the bass `decode` writes (ELECTRIC_BASS_PROGRAM).
MEL_PROGRAMS = tuple(range(32))
BASS_PROGRAMS = tuple(range(32, 40))
ELECTRIC_BASS_PROGRAM = 33
# Magenta's MusicVAE output velocity (data.OUTPUT_VELOCITY) and the
# instruments its from_tensors gives each part.
OUTPUT_VELOCITY = 80
PART_INSTRUMENTS = (0, 1, 9)
# Instruments above this are skipped (Magenta's MAX_INSTRUMENT_NUMBER).
MAX_INSTRUMENT = 127
# What an instrument is that is none of the three.
_OTHER = -1
_MIXED = -2

REASON_MIXED = 'instrument_of_mixed_types'
REASON_NO_INSTRUMENT = {part: f'no_{name}_instrument'
                        for part, name in enumerate(PARTS)}
REASON_NOTHING_ENCODABLE = {part: f'no_encodable_{name}_notes'
                            for part, name in enumerate(PARTS)}
REASON_NOT_COVERED = 'trio_not_covered'

# The extraction settings the trio reads each instrument with (Magenta's
# melody and drums converters inside TrioConverter); `check_extraction`
# refuses others.
FIXED_EXTRACTION = dict(min_bars=1, min_unique_pitches=1,
                        ignore_polyphonic_notes=True, pad_end=True,
                        drop_unencodable_notes=True, programs=())


@dataclasses.dataclass(frozen=True)
class TrioSettings:
  """A MusicVAE trio encoding (saved with every dataset).

  Attributes:
    min_note: the lowest MIDI pitch of the melody and bass ids.
    max_note: one above the highest (exclusive, note-seq's).
    drum_type_pitches: the MIDI pitches of each drum type (drums.py; the
      first is the one decoding strikes).
    melody_programs: the programs of a melody instrument.
    bass_programs: the programs of a bass instrument.
    bass_program: the program `decode` gives the bass.
    steps_per_quarter: metric grid, steps per quarter note.
    qpm: tempo `decode` writes, quarter notes per minute.
  """
  min_note: int = 21
  max_note: int = 109
  drum_type_pitches: tuple = drums_lib.DEFAULT_DRUM_TYPE_PITCHES
  melody_programs: tuple = MEL_PROGRAMS
  bass_programs: tuple = BASS_PROGRAMS
  bass_program: int = ELECTRIC_BASS_PROGRAM
  steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    object.__setattr__(self, 'drum_type_pitches', tuple(
        tuple(int(p) for p in pitches) for pitches in self.drum_type_pitches))
    for name in ('melody_programs', 'bass_programs'):
      programs = tuple(int(p) for p in getattr(self, name))
      object.__setattr__(self, name, programs)
      if any(not 0 <= p <= 127 for p in programs):
        raise ValueError(f'{name} must be MIDI programs 0..127, got {programs}')
    if set(self.melody_programs) & set(self.bass_programs):
      raise ValueError('melody_programs and bass_programs must not share a '
                       'program')
    if not 0 <= self.bass_program <= 127:
      raise ValueError(f'bass_program must be a MIDI program, got '
                       f'{self.bass_program}')
    # The parts' own settings check the rest.
    self.melody_settings()
    self.drums_settings()

  def melody_settings(self):
    """The melody and bass ids: Magenta's OneHotMelodyConverter's."""
    return melody_lib.MelodySettings(
        encoder=event_sequence.ONE_HOT, min_note=self.min_note,
        max_note=self.max_note, transpose_to_key=None,
        steps_per_quarter=self.steps_per_quarter, qpm=self.qpm)

  def drums_settings(self):
    """The drums ids: Magenta's DrumsConverter's."""
    return drums_lib.DrumsSettings(
        encoder=event_sequence.ONE_HOT,
        drum_type_pitches=self.drum_type_pitches,
        steps_per_quarter=self.steps_per_quarter, qpm=self.qpm)


def instrument_types(notes, settings):
  """{instrument: MELODY, BASS, DRUMS, or _OTHER / _MIXED} of the
  instruments of `notes` (`quantize.QuantizedNotes`) up to MAX_INSTRUMENT,
  as TrioConverter types them: a drum note is drums, another a melody or
  bass by its program, else of no type; an instrument of one type
  throughout is of it."""
  kind = np.full(notes.num_notes, _OTHER, np.int64)
  kind[np.isin(notes.program, settings.melody_programs)] = MELODY
  kind[np.isin(notes.program, settings.bass_programs)] = BASS
  kind[notes.is_drum] = DRUMS
  types = {}
  for instrument in np.unique(notes.instrument).tolist():
    if instrument > MAX_INSTRUMENT:
      continue
    kinds = np.unique(kind[notes.instrument == instrument])
    types[instrument] = int(kinds[0]) if len(kinds) == 1 else _MIXED
  return types


def coverage(notes, num_bars, bar, gap_bars):
  """bool [num_bars, MAX_INSTRUMENT + 1]: the bars each instrument covers,
  TrioConverter's: those where one of its notes sounds (from the bar of
  its start to the bar of its end), then every bar within `gap_bars` of
  one."""
  width = MAX_INSTRUMENT + 1
  valid = notes.instrument <= MAX_INSTRUMENT
  start = notes.start_step // bar
  end = np.minimum(-(-notes.end_step // bar), num_bars)
  inside = valid & (start < num_bars)
  changes = np.zeros((num_bars + 1, width), np.int64)
  np.add.at(changes, (start[inside], notes.instrument[inside]), 1)
  np.add.at(changes, (end[inside], notes.instrument[inside]), -1)
  sounding = np.cumsum(changes, axis=0)[:num_bars] > 0
  # Bars [j - gap, j + gap] of each bar j, by running sums.
  sums = np.concatenate([np.zeros((1, width), np.int64),
                         np.cumsum(sounding, axis=0)])
  rows = np.arange(num_bars)
  upper = np.minimum(rows + gap_bars + 1, num_bars)
  lower = np.maximum(rows - gap_bars, 0)
  return (sums[upper] - sums[lower]) > 0


def trio_coverage(covered, trio, gap_bars):
  """bool [num_bars]: the bars a trio of instruments covers, each covered
  by all three; each of the first and last `gap_bars` bars where any of
  them plays in those bars (TrioConverter's leniency at the ends)."""
  columns = covered[:, list(trio)]
  together = columns.all(axis=1)
  together[:gap_bars] = columns[:gap_bars].any()
  together[-gap_bars:] = columns[-gap_bars:].any()
  return together


def _place(ids, start, values):
  """Writes `values` into `ids` from `start` on, as far as `ids` goes (a
  sequence cut to its first max_bars)."""
  inside = values[:max(len(ids) - start, 0)]
  ids[start:start + len(inside)] = inside


@codec.register('trio')
class TrioCodec(codec.Codec):
  """NoteSequence ⇄ packed (melody, bass, drums) ids, one a step (module
  docstring).

    codec = TrioCodec()
    extraction = codec.extract(sequence, settings)   # 16-bar windows
    melody, bass, drums = codec.split(ids)   # [steps] each: 90, 90, 512 ids
    codec.decode(ids)                        # NoteSequence, 3 instruments
  """

  settings_class = TrioSettings
  timing = codec.TIMING_METRIC
  step_name = 'steps'
  extracts = True

  def __init__(self, settings=None):
    super().__init__(settings)
    self.melody = melody_lib.MelodyCodec(self.settings.melody_settings())
    self.drums = drums_lib.DrumsCodec(self.settings.drums_settings())

  @property
  def part_sizes(self):
    """(melody, bass, drums): 90, 90 and 512 ids by default."""
    return (self.melody.vocab_size, self.melody.vocab_size,
            self.drums.vocab_size)

  @property
  def vocab_size(self):
    """The packed ids: the product of `part_sizes`."""
    return math.prod(self.part_sizes)

  def pack(self, melody, bass, drums):
    """int32 token ids of the parts' id arrays."""
    _, basses, kits = self.part_sizes
    return ((np.asarray(melody, np.int64) * basses + np.asarray(bass))
            * kits + np.asarray(drums)).astype(np.int32)

  def split(self, ids):
    """(melody, bass, drums) int32 id arrays of token ids."""
    _, basses, kits = self.part_sizes
    ids = np.asarray(ids, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
      raise ValueError(f'trio ids must be in [0, {self.vocab_size}), got '
                       f'{ids.min()}..{ids.max()}')
    return tuple(part.astype(np.int32) for part in (
        ids // (basses * kits), ids // kits % basses, ids % kits))

  # --- Reading instruments ------------------------------------------------

  def _quantized(self, sequence):
    return quantize.quantize_sequence(sequence,
                                      self.settings.steps_per_quarter)

  def _melody_ids(self, notes, instrument, num_steps):
    """int32 [num_steps] melody ids of one instrument from step 0, as
    OneHotMelodyConverter reads it alone over a sequence of `num_steps`
    (None where it has no melody)."""
    s = self.settings
    chosen = ((notes.instrument == instrument) & (notes.pitch >= s.min_note)
              & (notes.pitch < s.max_note))
    found = melody_lib.extract_melody(notes.select(chosen), gap_bars=None,
                                      ignore_polyphonic_notes=True,
                                      pad_end=True)
    if not len(found.events):
      return None
    ids = np.full(num_steps, melody_lib.NO_EVENT_ID, np.int32)
    start, end = found.start_step, found.end_step
    _place(ids, start, self.melody.event_ids(found.events))
    # Padded to the sequence's length, a melody ends its last note
    # (note-seq's Melody.set_length).
    sounding = found.events[found.events != melody_lib.NO_EVENT]
    if end < num_steps and len(sounding) and sounding[-1] >= 0:
      ids[end] = melody_lib.NOTE_OFF_ID
    return ids

  def _drum_ids(self, notes, instrument, num_steps):
    """int32 [num_steps] drum ids of one instrument from step 0, as
    DrumsConverter reads it alone (None where it has no drum to encode)."""
    chosen = ((notes.instrument == instrument) & notes.is_drum
              & (self.drums.drum_types(notes.pitch) >= 0))
    track = drums_lib.extract_drum_track(notes.select(chosen), gap_bars=None,
                                         pad_end=True)
    if not track.num_steps:
      return None
    ids = np.zeros(num_steps, np.int32)
    _place(ids, track.start_step,
           self.drums.hit_ids(track.step, track.pitch, track.num_steps))
    return ids

  def _part_ids(self, notes, part, instrument, num_steps):
    if part == DRUMS:
      return self._drum_ids(notes, instrument, num_steps)
    return self._melody_ids(notes, instrument, num_steps)

  # --- The codec --------------------------------------------------------

  def encode(self, sequence):
    """A NoteSequence (seconds) -> its trio's ids, from step 0 to the end
    of its last bar: of each part, the first instrument of its type (by
    number, as `extract` types them) that has something to encode,
    silence where none has.

    Returns:
      int32 [steps]; empty for a sequence without notes.

    Raises:
      codec.EncodingError: reasons of quantize.py (the sequence cannot be
        quantized), 'non_integer_steps_per_bar'.
    """
    notes = self._quantized(sequence)
    bar = quantize.steps_per_bar(notes)
    num_steps = -(-notes.total_steps // bar) * bar if notes.num_notes else 0
    types = instrument_types(notes, self.settings)
    parts = []
    for part in range(len(PARTS)):
      found = None
      for instrument in sorted(i for i, t in types.items() if t == part):
        found = self._part_ids(notes, part, instrument, num_steps)
        if found is not None:
          break
      parts.append(np.zeros(num_steps, np.int32) if found is None else found)
    return self.pack(*parts)

  def check_extraction(self, settings):
    """The trio reads windows (`window_bars`) of whole bars of coverage
    (`gap_bars`), each instrument as Magenta's TrioConverter does
    (`FIXED_EXTRACTION`); other settings are refused."""
    if not settings.window_bars:
      raise ValueError('the trio encoding reads windows of bars: set '
                       'window_bars')
    if settings.gap_bars != int(settings.gap_bars):
      raise ValueError(f'the trio encoding fills gaps of whole bars, got '
                       f'gap_bars={settings.gap_bars}')
    wrong = {name: getattr(settings, name)
             for name, value in FIXED_EXTRACTION.items()
             if getattr(settings, name) != value}
    if wrong:
      raise ValueError(
          f'the trio encoding reads each instrument as Magenta\'s '
          f'TrioConverter does ({FIXED_EXTRACTION}), and types instruments '
          f'by its own melody_programs and bass_programs; got {wrong}')

  def extract(self, sequence, settings):
    """The windows TrioConverter makes of a NoteSequence (seconds, one
    tempo and meter): each an example ({'tokens': packed ids}, 0); see
    the module docstring for what is read and every reason a trio, an
    instrument or a sequence gives nothing.

    Raises:
      codec.EncodingError: the sequence cannot be quantized; 'wrong_meter'.
    """
    self.check_extraction(settings)
    notes = self._quantized(sequence)
    codec.check_meter(notes, settings)
    bar = quantize.steps_per_bar(notes)
    num_bars = -(-notes.total_steps // bar)
    truncated = 0
    if settings.max_steps and num_bars > settings.max_steps // bar:
      num_bars, truncated = settings.max_steps // bar, 1
    types = instrument_types(notes, self.settings)
    dropped = [REASON_MIXED] * sum(t == _MIXED for t in types.values())
    by_part = [sorted(i for i, t in types.items() if t == part)
               for part in range(len(PARTS))]
    missing = [REASON_NO_INSTRUMENT[part]
               for part, found in enumerate(by_part) if not found]
    if missing:
      return codec.Extraction([], missing + dropped, truncated,
                              reason=missing[0])
    num_steps = num_bars * bar
    gap = int(settings.gap_bars)
    covered = coverage(notes, num_bars, bar, gap)
    encoded = {}
    for part, instruments in enumerate(by_part):
      for instrument in instruments:
        ids = self._part_ids(notes, part, instrument, num_steps)
        if ids is None:
          dropped.append(REASON_NOTHING_ENCODABLE[part])
          covered[:, instrument] = False
        else:
          encoded[instrument] = ids
    size = settings.window_bars
    examples, seen, duplicates = [], set(), 0
    for trio in itertools.product(*by_part):
      if any(i not in encoded for i in trio):
        continue   # counted with its instrument
      together = trio_coverage(covered, trio, gap)
      starts = [j for j in range(num_bars - size + 1)
                if together[j:j + size].all()]
      if not starts:
        dropped.append(codec.REASON_SHORTER_THAN_WINDOW if num_bars < size
                       else REASON_NOT_COVERED)
        continue
      tokens = self.pack(*(encoded[i] for i in trio))
      for j in starts:
        window = {self.sequence_feature: tokens[j * bar:(j + size) * bar]}
        if settings.dedupe:
          key = codec.window_key(window)
          if key in seen:
            duplicates += 1
            continue
          seen.add(key)
        examples.append((window, 0))
    return codec.Extraction(examples, dropped, truncated, duplicates)

  def decode(self, ids):
    """Packed ids -> NoteSequence, as Magenta's TrioConverter.from_tensors
    writes a trio: the melody (note-seq's Melody.to_sequence) on instrument
    0, program 0; the bass on instrument 1, `bass_program`; the drums
    (DrumTrack.to_sequence) on instrument 9; velocity 80, at the settings'
    qpm."""
    melody, bass, drums = self.split(ids)
    qpm = self.settings.qpm
    sequence = self.melody.melody(melody).to_sequence(
        velocity=OUTPUT_VELOCITY, instrument=PART_INSTRUMENTS[MELODY],
        program=0, qpm=qpm)
    others = [
        self.melody.melody(bass).to_sequence(
            velocity=OUTPUT_VELOCITY, instrument=PART_INSTRUMENTS[BASS],
            program=self.settings.bass_program, qpm=qpm),
        self.drums.drum_track(drums).to_sequence(
            velocity=OUTPUT_VELOCITY, instrument=PART_INSTRUMENTS[DRUMS],
            qpm=qpm)]
    for other in others:
      sequence.notes.extend(other.notes)
      sequence.total_time = max(sequence.total_time, other.total_time)
    return sequence
