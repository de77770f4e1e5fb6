"""Reading music files (MIDI, MusicXML, ABC) into NoteSequences.

Pure functions over bytes: no Beam, no TensorFlow, no file system. The Beam
transforms in `musicrnn.pipelines.convert` call them; tests and notebooks can
call them directly.

Every way a file can fail is a `ConversionError` carrying a short reason code
(used as a Beam counter name and in the dead-letter file) and a human message.
"""

import collections
import dataclasses
import hashlib
import io
import os
import struct
import tempfile

import mido
from note_seq import abc_parser
from note_seq import midi_io
from note_seq import musicxml_reader
import pretty_midi

from musicrnn.pipelines import fast_midi

MIDI_EXTENSIONS = ('.mid', '.midi', '.kar')
MIDI_READERS = ('symusic', 'note_seq')
# The counter of files the symusic reader handed to note-seq's, one per
# reason (`FALLBACK_PREFIX` + fast_midi.NotReproducible's reason).
FALLBACK_PREFIX = 'midi_read_by_note_seq_'
MUSICXML_EXTENSIONS = ('.xml', '.mxl', '.musicxml')
ABC_EXTENSIONS = ('.abc',)
MUSIC_EXTENSIONS = MIDI_EXTENSIONS + MUSICXML_EXTENSIONS + ABC_EXTENSIONS

# Reason codes, one per way a file (or one ABC tune) can fail. Each is a Beam
# counter `failed_<reason>` and the `reason` field of a dead-letter entry.
REASON_READ_ERROR = 'read_error'
REASON_EMPTY_FILE = 'empty_file'
REASON_TOO_LARGE = 'too_large'
REASON_UNSUPPORTED_MIDI_TYPE = 'unsupported_midi_type'
REASON_MIDI_PARSE_ERROR = 'midi_parse_error'
REASON_MUSICXML_PARSE_ERROR = 'musicxml_parse_error'
REASON_ABC_PARSE_ERROR = 'abc_parse_error'
REASON_NO_NOTES = 'no_notes'
REASON_ABSURD_TEMPO = 'absurd_tempo'
REASON_TOO_LONG = 'too_long'
REASON_UNEXPECTED_ERROR = 'unexpected_error'
# Set by the isolated reader (`musicrnn.pipelines.isolation`): reading took
# longer than `max_seconds_per_file`, needed more than
# `max_memory_per_file_mb`, or killed the reading process (a segfault, the
# kernel's OOM killer).
REASON_TIMEOUT = 'timeout'
REASON_OUT_OF_MEMORY = 'out_of_memory'
REASON_READER_CRASHED = 'reader_crashed'
REASONS = (
    REASON_READ_ERROR, REASON_EMPTY_FILE, REASON_TOO_LARGE,
    REASON_UNSUPPORTED_MIDI_TYPE, REASON_MIDI_PARSE_ERROR,
    REASON_MUSICXML_PARSE_ERROR, REASON_ABC_PARSE_ERROR, REASON_NO_NOTES,
    REASON_ABSURD_TEMPO, REASON_TOO_LONG, REASON_UNEXPECTED_ERROR,
    REASON_TIMEOUT, REASON_OUT_OF_MEMORY, REASON_READER_CRASHED)


class ConversionError(Exception):
  """A file (or an ABC tune) that cannot become a usable NoteSequence.

  Attributes:
    reason: one of `REASONS`.
    exception_type: name of the underlying exception class, or the class of
      this error when the check is ours (no notes, absurd tempo, ...).
  """

  def __init__(self, reason, message, exception_type=None):
    super().__init__(message)
    self.reason = reason
    self.exception_type = exception_type or type(self).__name__


@dataclasses.dataclass(frozen=True)
class ReadLimits:
  """Sanity limits a file and its NoteSequence must meet to be kept.

  Attributes:
    min_qpm: slowest tempo accepted, quarter notes per minute.
    max_qpm: fastest tempo accepted, quarter notes per minute.
    max_duration_seconds: longest `total_time` accepted, in seconds. Huge
      delta times in a corrupt file show up as absurd durations.
    max_file_bytes: largest file read, in bytes.
    max_seconds_per_file: wall-clock seconds the isolated reader may spend
      on one file before it is stopped (reason `timeout`); 0 for no limit.
    max_memory_per_file_mb: memory, in MiB, the isolated reader may allocate
      for one file beyond its own footprint after start-up (reason
      `out_of_memory`); 0 for no limit. Enforced with RLIMIT_AS (Linux).
      With both of these at 0 files are read in the calling process.
    midi_reader: the MIDI parser, one of MIDI_READERS: 'symusic' (the
      default: symusic's C++ parser, giving note-seq's NoteSequences;
      `fast_midi` says how, and reads a file it cannot reproduce with
      note-seq) or 'note_seq' (note-seq's pretty_midi reader, pure Python).
  """
  min_qpm: float = 5.0
  max_qpm: float = 1000.0
  max_duration_seconds: float = 4 * 3600.0
  max_file_bytes: int = 64 * 1024 * 1024
  max_seconds_per_file: float = 60.0
  max_memory_per_file_mb: int = 2048
  midi_reader: str = 'symusic'

  def __post_init__(self):
    if self.midi_reader not in MIDI_READERS:
      raise ValueError(f'ReadLimits.midi_reader must be one of '
                       f'{", ".join(MIDI_READERS)}, got {self.midi_reader!r}')
    for field in dataclasses.fields(self):
      if field.name != 'midi_reader' and getattr(self, field.name) < 0:
        raise ValueError(
            f'ReadLimits.{field.name} must not be negative, got '
            f'{getattr(self, field.name)}')

  @property
  def isolated(self):
    """Whether files are read in a separate, limited process."""
    return bool(self.max_seconds_per_file or self.max_memory_per_file_mb)


def music_format(path):
  """Returns 'midi', 'musicxml' or 'abc' from a path's extension, else None."""
  ext = os.path.splitext(path)[1].lower()
  if ext in MIDI_EXTENSIONS:
    return 'midi'
  if ext in MUSICXML_EXTENSIONS:
    return 'musicxml'
  if ext in ABC_EXTENSIONS:
    return 'abc'
  return None


def content_hash(data):
  """The stable id of a file's content: hex SHA-256 of its bytes."""
  return hashlib.sha256(data).hexdigest()


def check_size(data, limits):
  """Raises ConversionError for an empty or over-large file."""
  if not data:
    raise ConversionError(REASON_EMPTY_FILE, 'file is empty (0 bytes)')
  if len(data) > limits.max_file_bytes:
    raise ConversionError(
        REASON_TOO_LARGE,
        f'file is {len(data)} bytes, over the limit of '
        f'{limits.max_file_bytes} bytes')


def _midi_format_type(data):
  """The format word (0, 1 or 2) of a standard MIDI file header, or None.

  RIFF-wrapped MIDI (.rmi) and files without an MThd header return None and
  are left to the MIDI parser to accept or reject.
  """
  if len(data) >= 14 and data[:4] == b'MThd':
    return struct.unpack('>H', data[8:10])[0]
  return None


def _check_last_tick(midi_file, limits):
  """Raises ConversionError when the last event is beyond the duration limit.

  pretty_midi allocates a tick-to-time table of 8 bytes per tick up to the
  last event (note-seq raises its cap to 1e10 ticks), so one huge delta time
  in a 40-byte file asks for gigabytes. Even at the fastest tempo accepted
  (`max_qpm`) tick T is at T / (ticks_per_beat * max_qpm / 60) seconds: past
  `max_duration_seconds` the file fails as too_long, before the table.
  """
  ticks_per_beat = midi_file.ticks_per_beat
  if ticks_per_beat <= 0 or not midi_file.tracks:
    return  # SMPTE or nonsense division: left to pretty_midi.
  last_tick = max(sum(message.time for message in track)
                  for track in midi_file.tracks)
  earliest_seconds = last_tick / (ticks_per_beat * limits.max_qpm / 60.0)
  if earliest_seconds > limits.max_duration_seconds:
    raise ConversionError(
        REASON_TOO_LONG,
        f'last event at tick {last_tick} ({ticks_per_beat} ticks per beat) '
        f'is at least {earliest_seconds:.6g} s in, even at {limits.max_qpm:g} '
        f'qpm; over the limit of {limits.max_duration_seconds:g} s')


def _read_midi(data, limits, counts):
  if _midi_format_type(data) == 2:
    # Type 2 holds independent sequential patterns; reading its tracks as
    # simultaneous parts (what pretty_midi does) would produce wrong music.
    raise ConversionError(
        REASON_UNSUPPORTED_MIDI_TYPE,
        'MIDI format type 2 (independent sequential patterns) is not '
        'supported; only types 0 and 1 are')
  if limits.midi_reader == 'symusic':
    try:
      return [(None, fast_midi.read_midi(data, limits.max_duration_seconds,
                                         limits.max_qpm))]
    except fast_midi.NotReproducible as e:
      counts[FALLBACK_PREFIX + e.args[0]] += 1
  try:
    # What midi_io.midi_to_note_sequence(data) does, with a look at the
    # parsed events before pretty_midi sizes its tables by them.
    try:
      midi_file = mido.MidiFile(file=io.BytesIO(data), charset='latin1')
      _check_last_tick(midi_file, limits)
      midi = pretty_midi.PrettyMIDI(mido_object=midi_file)
    except (ConversionError, MemoryError):
      raise
    except Exception as e:  # pylint: disable=broad-except
      # note-seq's message for the same errors, so dead letters stay alike.
      raise midi_io.MIDIConversionError(
          f'Midi decoding error {type(e)}: {e}') from e
    sequence = midi_io.midi_to_note_sequence(midi)
    # Notes in the order the symusic reader gives too (note-seq lists them
    # by their note-off events).
    return [(None, fast_midi.canonical_note_order(sequence))]
  except midi_io.MIDIConversionError as e:
    raise ConversionError(REASON_MIDI_PARSE_ERROR, str(e),
                          type(e).__name__) from e


def _read_musicxml(data, path):
  # note-seq's MusicXML reader takes a file name and decides on compression
  # from a lower-case '.mxl' suffix, so hand it a temporary file.
  suffix = '.mxl' if path.lower().endswith('.mxl') else '.xml'
  with tempfile.NamedTemporaryFile(suffix=suffix) as f:
    f.write(data)
    f.flush()
    try:
      sequence = musicxml_reader.musicxml_file_to_sequence_proto(f.name)
    except musicxml_reader.MusicXMLConversionError as e:
      raise ConversionError(REASON_MUSICXML_PARSE_ERROR, str(e),
                            type(e).__name__) from e
    except Exception as e:  # pylint: disable=broad-except
      # note-seq's MusicXML parser lets ElementTree, zipfile and value errors
      # through for many malformed documents.
      raise ConversionError(REASON_MUSICXML_PARSE_ERROR,
                            f'{type(e).__name__}: {e}', type(e).__name__) from e
  return [(None, sequence)]


def _decode_text(data):
  try:
    return data.decode('utf-8')
  except UnicodeDecodeError:
    # Older ABC collections are Latin-1; every byte string decodes as it.
    return data.decode('latin-1')


def _read_abc(data):
  """Returns ([(reference_number, NoteSequence)], [ConversionError])."""
  try:
    tunes, exceptions = abc_parser.parse_abc_tunebook(_decode_text(data))
  except abc_parser.ABCParseError as e:
    raise ConversionError(REASON_ABC_PARSE_ERROR, str(e),
                          type(e).__name__) from e
  failures = [
      ConversionError(REASON_ABC_PARSE_ERROR, str(e) or type(e).__name__,
                      type(e).__name__) for e in exceptions]
  if not tunes and not failures:
    raise ConversionError(REASON_ABC_PARSE_ERROR, 'no ABC tune found')
  return sorted(tunes.items()), failures


def validate(sequence, limits):
  """Raises ConversionError when a parsed NoteSequence is not usable music."""
  if not sequence.notes:
    raise ConversionError(REASON_NO_NOTES, 'no notes')
  for tempo in sequence.tempos:
    if not limits.min_qpm <= tempo.qpm <= limits.max_qpm:
      raise ConversionError(
          REASON_ABSURD_TEMPO,
          f'tempo {tempo.qpm:.6g} qpm at {tempo.time:.3f} s is outside '
          f'[{limits.min_qpm:g}, {limits.max_qpm:g}] qpm')
  if sequence.total_time > limits.max_duration_seconds:
    raise ConversionError(
        REASON_TOO_LONG,
        f'duration {sequence.total_time:.1f} s is over the limit of '
        f'{limits.max_duration_seconds:g} s')


def sequence_id(digest, tune_number=None):
  """The NoteSequence id: the content hash, plus '#<X number>' for ABC tunes."""
  return digest if tune_number is None else f'{digest}#{tune_number}'


def read_music_bytes(data, path, limits=ReadLimits(), digest=None, counts=None):
  """Parses one music file's bytes into NoteSequences.

  Args:
    data: the file's bytes.
    path: the file's path, used for its extension and error messages only.
    limits: the ReadLimits every NoteSequence must meet.
    digest: `content_hash(data)`, when the caller has it already.
    counts: a collections.Counter that gains, when the file is read, the
      reader's counts (`FALLBACK_PREFIX` + reason: the symusic reader left
      it to note-seq's), or None.

  Returns:
    (sequences, failures): `sequences` is a list of NoteSequences with `id`
    set (one for MIDI and MusicXML, one per tune for ABC); `failures` lists a
    ConversionError per ABC tune that could not be used (always empty for
    MIDI and MusicXML). `filename` and `collection_name` are left to the
    caller.

  Raises:
    ConversionError: the file as a whole cannot be used.
  """
  check_size(data, limits)
  fmt = music_format(path)
  failures = []
  counted = collections.Counter()
  try:
    if fmt == 'midi':
      parsed = _read_midi(data, limits, counted)
    elif fmt == 'musicxml':
      parsed = _read_musicxml(data, path)
    elif fmt == 'abc':
      parsed, failures = _read_abc(data)
    else:
      raise ValueError(f'not a music file extension: {path}')
  except ConversionError:
    raise
  except MemoryError as e:
    # Under the isolated reader's memory limit (or a real shortage).
    raise ConversionError(REASON_OUT_OF_MEMORY,
                          'out of memory while parsing',
                          type(e).__name__) from e
  except Exception as e:  # pylint: disable=broad-except
    # A parser bug or an unforeseen malformation: the file is dead-lettered
    # with the exception type rather than stopping a long batch job.
    raise ConversionError(REASON_UNEXPECTED_ERROR, f'{type(e).__name__}: {e}',
                          type(e).__name__) from e

  digest = digest or content_hash(data)
  sequences = []
  for tune_number, sequence in parsed:
    try:
      validate(sequence, limits)
    except ConversionError as e:
      if fmt != 'abc':
        raise
      e.args = (f'tune X:{tune_number}: {e}',)
      failures.append(e)
      continue
    sequence.id = sequence_id(digest, tune_number)
    sequences.append(sequence)
  if not sequences:
    if len(failures) == 1:
      raise failures[0]
    raise ConversionError(
        failures[0].reason if failures else REASON_NO_NOTES,
        f'no usable tune: {"; ".join(str(f) for f in failures)}',
        failures[0].exception_type if failures else None)
  if counts is not None:
    counts.update(counted)
  return sequences, failures
