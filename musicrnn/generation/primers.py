"""What generated music continues: a primer as the codec's ids.

  ids = primers.primer_events(codec, primer_midi='start.mid')
  ids = primers.primer_events(codec, primer_pitches=[60, 64, 67])
  ids = primers.primer_events(codec, primer_frames='chorale_start.npy')
  ids = primers.primer_events(
      codec, primer_melody=primers.parse_melody('[60, -2, 67, -2]'), qpm=90)
  ids = primers.primer_events(
      codec, primer_drums=primers.parse_drums('[(36,), (), (42,)]'))
  chords = primers.backing_chords('C G Am F', steps_per_chord=16)

Magenta's own primer texts (melody_rnn_generate's --primer_melody,
drums_rnn_generate's --primer_drums, improv_rnn_generate's
--backing_chords) are read here with `ast.literal_eval`, never `eval`, and
become NoteSequences by note-seq's own classes (`Melody.to_sequence`,
`DrumTrack.to_sequence`): the codec encodes them as it encodes any music.
"""

import ast
import logging
import os

import note_seq
from note_seq import chord_symbols_lib
from note_seq import constants
from note_seq import midi_io
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import frames as frames_lib
from musicrnn.encodings.codec import EncodingError
from musicrnn.errors import UsageError

PRIMER_VELOCITY = 80
# The tempo of a primer written as pitches, melody events or drums when
# --qpm is not given: note-seq's (and Magenta's generators') default.
DEFAULT_QPM = constants.DEFAULT_QUARTERS_PER_MINUTE
# Every flag that gives a primer; one of them at most.
PRIMER_FLAGS = ('primer_midi', 'primer_pitches', 'primer_frames',
                'primer_melody', 'primer_drums')


def primer_events(codec, primer_midi=None, primer_pitches=None,
                  primer_frames=None, primer_melody=None, primer_drums=None,
                  qpm=None):
  """The primer as the codec's ids (at least one step).

  A MIDI primer is encoded whole, at its own tempo; a list of pitches is a
  chord held for one quarter note, as Magenta's --primer_pitches; melody
  events (`parse_melody`) are note-seq's `Melody(events).to_sequence(qpm)`
  and drums (`parse_drums`) its `DrumTrack(steps).to_sequence(qpm)`, as
  Magenta's --primer_melody and --primer_drums, each encoded as the codec
  encodes any NoteSequence (a melody primes any encoding of notes; drums
  only an encoding that keeps drum notes). The NoteSequence ends where the
  last note ends: steps of silence after it are not part of the primer.
  Frames (`primer_frames`: a NumPy .npy file of 0/1 [frames, keys], such as
  the first frames of a piece of the 2012 benchmark) are encoded as they
  are, for an encoding of frames of sounding keys; with none, the codec's
  empty primer (a single shortest time shift for performance events,
  Magenta's middle C for a melody) starts the sequence.

  Args:
    codec: the run's codec.
    primer_midi: a MIDI file's path.
    primer_pitches: MIDI pitches, a chord.
    primer_frames: a .npy file's path.
    primer_melody: note-seq melody events, one per step (`parse_melody`).
    primer_drums: drum pitches struck at each step (`parse_drums`).
    qpm: quarter notes per minute of a primer of pitches, melody events or
      drums (default DEFAULT_QPM, 120); None or > 0. Given without such a
      primer it must have an output tempo to set: the codec's settings
      hold a qpm (`Codec.tempo_settings`).

  Raises:
    UsageError: two given, a file that is missing or unreadable, a pitch
      outside 0..127, melody events or drums that are not note-seq's,
      a qpm that is not > 0 or sets nothing, frames of another width or for
      an encoding of other ids, drums for an encoding that leaves drums
      out, or a primer the codec cannot encode or with no notes.
  """
  given = [name for name, value in zip(
      PRIMER_FLAGS, (primer_midi, primer_pitches, primer_frames,
                     primer_melody, primer_drums)) if value]
  if len(given) > 1:
    raise UsageError(f'{" and ".join("--" + name for name in given)}: give one '
                     f'primer at most, one of '
                     f'{", ".join("--" + name for name in PRIMER_FLAGS)}')
  if qpm is not None:
    check_qpm(qpm)
    if not (primer_pitches or primer_melody or primer_drums
            or codec.tempo_settings()):
      raise UsageError(
          f'--qpm={qpm:g} sets the tempo of --primer_pitches, --primer_melody '
          f'and --primer_drums, and the output tempo of an encoding of '
          f'quarter notes; the {codec.name} encoding keeps time in seconds: '
          'give one of those primers, or leave --qpm out')
  qpm = DEFAULT_QPM if qpm is None else float(qpm)
  if primer_frames:
    return _frames_primer(codec, primer_frames)
  if primer_midi:
    if not os.path.exists(primer_midi):
      raise UsageError(f'--primer_midi={primer_midi} does not exist')
    try:
      sequence = midi_io.midi_file_to_note_sequence(primer_midi)
    except midi_io.MIDIConversionError as e:
      raise UsageError(f'--primer_midi={primer_midi} is not readable MIDI: {e}') from e
  elif primer_pitches:
    quarter = 60.0 / qpm
    sequence = music_pb2.NoteSequence()
    sequence.tempos.add(qpm=qpm)
    for pitch in primer_pitches:
      if not 0 <= int(pitch) <= 127:
        raise UsageError(f'primer pitch {pitch} is outside 0..127')
      sequence.notes.add(pitch=int(pitch), velocity=PRIMER_VELOCITY,
                         start_time=0.0, end_time=quarter)
    sequence.total_time = quarter
  elif primer_melody:
    sequence = melody_sequence(primer_melody, qpm)
  elif primer_drums:
    sequence = drums_sequence(primer_drums, qpm)
  else:
    sequence = None
  if sequence is None:
    return np.asarray(codec.empty_primer(), np.int32)
  try:
    events = np.asarray(codec.encode(sequence), np.int32)
  except EncodingError as e:
    # Metric encodings take one tempo and meter: a primer that changes
    # either is continued from its first section with notes.
    events = _first_section(codec, sequence)
    if events is None:
      raise UsageError(f'the primer cannot be encoded with '
                       f'{codec.spec()["name"]}: {e}') from e
  if codec.end_id is not None:
    # The primer is continued, not ended (Magenta trims its trailing END).
    events = events[events != codec.end_id] if len(events) > 1 else events
  if primer_drums and sequence.notes and not (len(events) and any(
      note.is_drum for note in codec.decode_generated(events).notes)):
    # An encoding of pitched notes reads no drums: the primer would be
    # silence, not the drums asked for.
    raise UsageError(f'--primer_drums primes an encoding of drum notes '
                     f'(drums, Drums RNN\'s); the {codec.name} encoding leaves '
                     'drums out: give --primer_melody, --primer_pitches or '
                     '--primer_midi')
  if len(events) == 0:
    raise UsageError('the primer has no notes')
  return events


def check_qpm(qpm):
  """Raises a UsageError unless `qpm` (quarter notes per minute) is > 0."""
  if not qpm > 0:
    raise UsageError(f'--qpm must be > 0 (quarter notes per minute), got {qpm}')


def _literal(flag, text, form):
  """The Python literal of a flag's text (`ast.literal_eval`: data, never
  code), or a UsageError naming the expected `form`."""
  try:
    return ast.literal_eval(text.strip())
  except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
    raise UsageError(f'--{flag}={text} is not a Python literal: need {form}') from e


def _is_int(value):
  # A bool is an int to Python, never a pitch to a user.
  return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


MELODY_FORM = ('a list of note-seq melody events, one per 16th-note step: a '
               'MIDI pitch 0..127 starts a note, -2 (NO_EVENT) holds what '
               'sounds, -1 (NOTE_OFF) ends it, e.g. "[60, -2, 60, -2, 67, -2]"')
DRUMS_FORM = ('a list of the drum pitches struck at each 16th-note step, a '
              'tuple per step (() for none, (36,) for one), e.g. '
              '"[(36,), (), (42,), (36, 42)]"')


def check_melody(events):
  """`events` (note-seq Melody event values) as a list of ints, checked.

  Raises:
    UsageError: not a non-empty list or tuple of ints, or an event outside
      -2..127 (a pitch outside 0..127, or below NO_EVENT).
  """
  if not isinstance(events, (list, tuple)) or not events:
    raise UsageError(f'--primer_melody={events!r} is not a non-empty list: '
                     f'need {MELODY_FORM}')
  for event in events:
    if not _is_int(event):
      raise UsageError(f'--primer_melody event {event!r} is not an integer: '
                       f'need {MELODY_FORM}')
    if event > constants.MAX_MIDI_PITCH:
      raise UsageError(f'--primer_melody pitch {event} is outside 0..127')
    if event < constants.MELODY_NO_EVENT:
      raise UsageError(f'--primer_melody event {event} is below -2: -1 is '
                       'NOTE_OFF, -2 NO_EVENT, 0..127 a pitch')
  return [int(event) for event in events]


def check_drums(steps):
  """`steps` (drum pitches struck per step) as a list of frozensets, checked.

  Raises:
    UsageError: not a non-empty list or tuple of steps, a step that is not
      a tuple or list of ints (a bare number such as (36) included), or a
      pitch outside 0..127.
  """
  if not isinstance(steps, (list, tuple)) or not steps:
    raise UsageError(f'--primer_drums={steps!r} is not a non-empty list: need '
                     f'{DRUMS_FORM}')
  checked = []
  for i, step in enumerate(steps):
    if isinstance(step, (frozenset, set)):
      step = sorted(step)
    if not isinstance(step, (list, tuple)) or not all(_is_int(p) for p in step):
      hint = (f' (write ({step},) for one drum)' if _is_int(step) else '')
      raise UsageError(f'--primer_drums step {i}, {step!r}, is not a tuple of '
                       f'drum pitches{hint}: need {DRUMS_FORM}')
    for pitch in step:
      if not constants.MIN_MIDI_PITCH <= pitch <= constants.MAX_MIDI_PITCH:
        raise UsageError(f'--primer_drums pitch {pitch} (step {i}) is outside '
                         '0..127')
    checked.append(frozenset(int(p) for p in step))
  return checked


def parse_melody(text):
  """--primer_melody's text ("[60, -2, 67, -1]") -> its events (a list of
  ints, `check_melody`); None for None or ''.

  Raises:
    UsageError: not a Python literal, or not melody events.
  """
  if not text:
    return None
  return check_melody(_literal('primer_melody', text, MELODY_FORM))


def parse_drums(text):
  """--primer_drums's text ("[(36,), (), (36, 42)]") -> a frozenset of
  pitches per step (`check_drums`); None for None or ''.

  Raises:
    UsageError: not a Python literal, or not steps of drums.
  """
  if not text:
    return None
  return check_drums(_literal('primer_drums', text, DRUMS_FORM))


def melody_sequence(events, qpm=DEFAULT_QPM):
  """Melody events -> the NoteSequence note-seq writes for them
  (`Melody(events).to_sequence(qpm=qpm)`: 4 steps a quarter, velocity 100).

  Raises:
    UsageError: events `check_melody` refuses.
  """
  return note_seq.Melody(check_melody(events)).to_sequence(qpm=float(qpm))


def drums_sequence(steps, qpm=DEFAULT_QPM):
  """Drum steps -> the NoteSequence note-seq writes for them
  (`DrumTrack(steps).to_sequence(qpm=qpm)`: 4 steps a quarter, each drum
  one step long, is_drum, instrument 9).

  Raises:
    UsageError: steps `check_drums` refuses.
  """
  return note_seq.DrumTrack(check_drums(steps)).to_sequence(qpm=float(qpm))


def backing_chords(text, steps_per_chord):
  """Improv RNN's --backing_chords ("C G Am F", note-seq chord symbols, N.C.
  for none) -> a chord symbol per step: each held `steps_per_chord` steps,
  as improv_rnn_generate repeats them.

  Args:
    text: chord symbols separated by spaces.
    steps_per_chord: steps each chord lasts (16: a 4/4 bar of 16ths), >= 1.

  Returns:
    [len(symbols) * steps_per_chord] chord symbols (str).

  Raises:
    UsageError: no symbol, a symbol note-seq's chord_symbols_lib cannot
      read, or steps_per_chord below 1.
  """
  if not _is_int(steps_per_chord) or steps_per_chord < 1:
    raise UsageError(f'--steps_per_chord must be an integer >= 1, got '
                     f'{steps_per_chord!r}')
  symbols = (text or '').split()
  if not symbols:
    raise UsageError('--backing_chords has no chord: give chord symbols '
                     'separated by spaces, e.g. "C G Am F" (N.C. for none)')
  for symbol in symbols:
    if symbol == constants.NO_CHORD:
      continue
    try:
      chord_symbols_lib.chord_symbol_pitches(symbol)
    except chord_symbols_lib.ChordSymbolError as e:
      raise UsageError(f'--backing_chords: {symbol!r} is not a chord symbol '
                       f'note-seq reads ({e}); e.g. C, Am, G7, F#m7b5, Bb/D, '
                       f'{constants.NO_CHORD} for none') from e
  return [symbol for symbol in symbols for _ in range(steps_per_chord)]


def _first_section(codec, sequence):
  """The ids of the first section of `sequence` between tempo and time
  signature changes that has notes and that `codec` encodes, or None."""
  for section in sequences_lib.split_note_sequence_on_time_changes(sequence):
    if not section.notes:
      continue
    try:
      events = np.asarray(codec.encode(section), np.int32)
    except EncodingError:
      continue
    logging.info('musicrnn generate: the primer changes tempo or time signature '
                 '(the %s encoding takes one of each): its first section with '
                 'notes, %.1f s, primes the outputs', codec.spec()['name'],
                 section.total_time)
    return events
  return None


def _frames_primer(codec, path):
  """The ids of the frames in the .npy file `path`."""
  if not isinstance(codec, frames_lib.KeyFramesEncoding):
    raise UsageError(f'--primer_frames primes an encoding of frames of sounding '
                     f'keys (key_frames, frame_events), not {codec.name}; give '
                     '--primer_midi')
  if not os.path.exists(path):
    raise UsageError(f'--primer_frames={path} does not exist')
  try:
    frames = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise UsageError(f'--primer_frames={path} is not a NumPy .npy file: {e}') from e
  keys = codec.settings.num_keys
  if frames.ndim != 2 or frames.shape[1] != keys or not len(frames) or not (
      np.isin(frames, (0, 1)).all()):
    raise UsageError(f'--primer_frames={path} holds {frames.dtype} '
                     f'{list(frames.shape)}: need 0/1 [frames >= 1, {keys}] '
                     f'(the keys of MIDI {codec.settings.min_pitch}-'
                     f'{codec.settings.max_pitch})')
  return np.asarray(codec.encode_key_frames(frames.astype(np.uint8)))
