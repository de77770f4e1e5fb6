"""A fast MIDI reader: symusic's C++ parser, giving note-seq's NoteSequences.

note-seq reads MIDI through pretty_midi over mido, in pure Python (about
34,000 notes/s on ASAP). symusic (C++, MIT) parses the same files two orders
of magnitude faster but pairs notes, groups instruments and keeps meta events
in its own ways. `read_midi` parses each MIDI track with symusic and rebuilds
what `note_seq.midi_io.midi_to_note_sequence` would give, with pretty_midi's
rules:

- times: pretty_midi's tick-to-time table (its default 120 qpm, the tempo
  events of the first track only, a repeated tempo ignored), in float64 with
  the same arithmetic, so times are bit-equal;
- time and key signatures: the first track's only;
- instruments: one per (track, channel, program), in the order pretty_midi
  creates them (the order of their first closed note);
- notes: pretty_midi drops a note whose note-off falls on its own note-on's
  tick, and closes every open note of a pitch at one note-off (symusic one
  at a time: `_closed_together` rebuilds pretty_midi's notes); notes are
  listed in `canonical_note_order`, which the note-seq path of `readers`
  uses too (pretty_midi lists them in the order of their note-off events,
  which no fast parser reports).

Where symusic's parse of a track has lost what pretty_midi needs, the track
is read by a raw pass over its events (`_raw_track`, pretty_midi's own loop
on the bytes, as mido tokenises them): overlapping notes of one pitch whose
notes depend on the order of a note-on and note-off within a tick, notes never
released (symusic drops them and pairs later note-offs differently), a
program change while a note of its channel sounds (pretty_midi files the note
under the program at its note-off, symusic at its note-on), controls or pitch
bends in a track that holds several instruments or none (pretty_midi's
straggler rules), instruments of one track whose first notes end together,
tempo events at one tick (pretty_midi keeps the file's order, symusic sorts
them) and track names symusic may not give as mido decodes them.

Where neither can say what pretty_midi would do, `read_midi` raises
`NotReproducible` with a short reason and the caller reads the file with
note-seq: an event without a status byte after a sysex event and key
signatures out of range (mido refuses both), an event past the duration
limit, a file symusic refuses, a header other than a plain one and SMPTE
time division. tests/test_fast_midi.py checks equality on every fixture
and, when ../shared/data is present, on a share of each corpus and every
edge case (`benchmarks/convert_benchmark.py --compare_readers` on every
file).
"""

import collections
import dataclasses
import struct

import numpy as np
from note_seq.protobuf import music_pb2

try:
  import symusic
except ImportError:  # pragma: no cover - symusic is a dependency
  symusic = None

_HEADER = struct.Struct('>4sLHHH')
_TRACK_NAME = b'\xff\x03'


class NotReproducible(Exception):
  """symusic's parse of this file cannot be turned into note-seq's: read it
  with note-seq instead. `args[0]` is a short reason (a counter name)."""


def canonical_note_order(sequence):
  """Sorts `sequence.notes` in place by (start, pitch, instrument, end,
  velocity, program, drum): the order both MIDI readers give."""
  notes = sorted(sequence.notes, key=lambda n: (
      n.start_time, n.pitch, n.instrument, n.end_time, n.velocity, n.program,
      n.is_drum))
  copies = [music_pb2.NoteSequence.Note() for _ in notes]
  for copy, note in zip(copies, notes):
    copy.CopyFrom(note)
  del sequence.notes[:]
  sequence.notes.extend(copies)
  return sequence


def _track_chunks(data):
  """(ticks per quarter, [one MIDI file per track]) of a standard MIDI file:
  the header's count of track chunks, one after another, as mido reads them
  (bytes after the last are ignored)."""
  if len(data) < _HEADER.size:
    raise NotReproducible('not_a_plain_midi_file')
  tag, length, fmt, count, division = _HEADER.unpack_from(data)
  if (tag != b'MThd' or length != 6 or fmt not in (0, 1, 2) or not
      0 < count < 0x8000):
    raise NotReproducible('not_a_plain_midi_file')
  if division & 0x8000 or division == 0:
    raise NotReproducible('smpte_division')
  offset = _HEADER.size
  files = []
  for _ in range(count):
    if offset + 8 > len(data) or data[offset:offset + 4] != b'MTrk':
      raise NotReproducible('not_a_plain_midi_file')
    (size,) = struct.unpack_from('>L', data, offset + 4)
    end = offset + 8 + size
    if end > len(data):
      raise NotReproducible('not_a_plain_midi_file')
    files.append(_HEADER.pack(b'MThd', 6, 1, 1, division) + data[offset:end])
    offset = end
  return division, files


class _Clock:
  """pretty_midi's tick -> seconds: `_load_tempo_changes` and
  `_update_tick_to_time`, without the table."""

  def __init__(self, ticks_per_quarter, tempo_ticks, tempo_mspq):
    ticks = np.asarray(tempo_ticks, np.int64)
    mspq = np.asarray(tempo_mspq, np.float64)
    if np.any(mspq <= 0):
      raise NotReproducible('zero_tempo')   # pretty_midi divides by it
    scales = 60.0 / ((6e7 / mspq) * ticks_per_quarter)
    # A tempo at tick 0 replaces the default (the last such one stays); a
    # later one counts where it changes the scale, that is, where it differs
    # from the event before it (a repeat matches the last one kept).
    at_zero = ticks == 0
    first = scales[at_zero][-1] if at_zero.any() else 60.0 / (
        120.0 * ticks_per_quarter)
    later, later_scales = ticks[~at_zero], scales[~at_zero]
    before = np.concatenate([[first], later_scales[:-1]])
    changed = later_scales != before
    self.ticks = np.concatenate([[0], later[changed]]).astype(np.int64)
    self.scales = np.concatenate([[first], later_scales[changed]])
    # The time of each tempo's first tick, accumulated as pretty_midi does
    # (add.accumulate sums in order).
    self.starts = np.concatenate([[0.0], np.cumsum(
        self.scales[:-1] * np.diff(self.ticks).astype(np.float64))])

  def seconds(self, ticks):
    ticks = np.asarray(ticks, np.int64)
    index = np.searchsorted(self.ticks, ticks, side='right') - 1
    return self.starts[index] + self.scales[index] * (ticks - self.ticks[index])

  def qpms(self, ticks_per_quarter):
    return 60.0 / (self.scales * ticks_per_quarter)


def _parse_score(file_bytes):
  try:
    return symusic.Score.from_midi(file_bytes, ttype='tick')
  except Exception as e:  # pylint: disable=broad-except
    raise NotReproducible('refused_by_symusic') from e


def _names(file_bytes):
  """The payloads of the bytes that look like track-name events (FF 03 and
  a one-byte length; a match inside other data is possible)."""
  names, offset = [], file_bytes.find(_TRACK_NAME)
  while 0 <= offset < len(file_bytes) - 2:
    size = file_bytes[offset + 2]
    names.append(file_bytes[offset + 3:offset + 3 + size] if size < 0x80 else None)
    offset = file_bytes.find(_TRACK_NAME, offset + 2)
  return names


def _parse(file_bytes, score):
  """The name of a one-track MIDI file's instruments, as mido reads it.

  Raises:
    NotReproducible: tempo events at one tick (which one pretty_midi keeps
      follows the file's order, which symusic's sort loses), or a track
      name symusic may not give as mido does (bytes over 127, which symusic
      drops where they are not UTF-8, or several names).
  """
  tempos = score.tempos.numpy()
  ticks = tempos['time']
  if len(ticks) > 1 and np.any((ticks[1:] == ticks[:-1]) &
                               (tempos['mspq'][1:] != tempos['mspq'][:-1])):
    raise NotReproducible('tempos_at_one_tick')
  symusic_names = {track.name for track in score.tracks}
  if not symusic_names:
    return ''   # no instrument to name
  names = _names(file_bytes)
  if (len(symusic_names) > 1 or len(set(names)) > 1
      or any(name is None or not name.isascii() for name in names)):
    raise NotReproducible('track_names')
  return symusic_names.pop()


def _closed_together(starts, ends, velocities):
  """pretty_midi's notes of one pitch of a track where some overlap: a
  note-off closes every open note of its pitch begun at an earlier tick.
  `starts`, `ends` and `velocities` are symusic's notes of that pitch, which
  a note-off closes one at a time: the note-on and note-off ticks are the
  same (a note-off symusic pairs with nothing finds nothing open in
  pretty_midi either). Returns [(start, end, velocity)].

  Raises:
    NotReproducible: a tick whose note-ons and note-offs give different
      notes in different orders (more than one note-off there, or one that
      finds no earlier note open): the raw pass reads the file's order.
  """
  ons = {}
  for start, velocity in zip(starts, velocities):
    ons.setdefault(start, []).append((start, velocity))
  offs = collections.Counter(ends)
  open_notes, closed = [], []
  for tick in sorted(set(ons) | set(offs)):
    count, new = offs.get(tick, 0), ons.get(tick, ())
    if count and new and (count > 1 or not open_notes):
      raise NotReproducible('overlapping_notes_of_one_pitch')
    if count:
      closed.extend((start, tick, velocity) for start, velocity in open_notes)
      open_notes = []
    open_notes.extend(new)
  return closed   # notes still open at the end: pretty_midi drops them


def _kept_notes(notes):
  """A track's notes (numpy fields) as pretty_midi keeps them: (starts,
  ends, pitches, velocities) in ticks.

  Raises:
    NotReproducible: notes of one pitch overlap or start on one tick where
      pretty_midi's notes depend on the order of events within a tick
      (`_closed_together`): the raw pass reads the track.
  """
  start = notes['time'].astype(np.int64)
  end = start + notes['duration'].astype(np.int64)
  pitch = notes['pitch'].astype(np.int64)
  velocity = notes['velocity'].astype(np.int64)
  order = np.lexsort((end, start, pitch))
  start_, end_, pitch_ = start[order], end[order], pitch[order]
  overlapping = (pitch_[1:] == pitch_[:-1]) & ((start_[1:] < end_[:-1])
                                               | (start_[1:] == start_[:-1]))
  # A note whose note-off falls on its own note-on's tick (symusic: length
  # 0) closes nothing in pretty_midi, which then forgets it.
  keep = end > start
  if not overlapping.any():
    return start[keep], end[keep], pitch[keep], velocity[keep]
  replaced = np.unique(pitch_[1:][overlapping])
  rest = keep & ~np.isin(pitch, replaced)
  columns = [start[rest], end[rest], pitch[rest], velocity[rest]]
  for p in replaced.tolist():
    mine = np.flatnonzero(pitch == p)
    notes_of_p = _closed_together(start[mine].tolist(), end[mine].tolist(),
                                  velocity[mine].tolist())
    if notes_of_p:
      s, e, v = (np.array(c, np.int64) for c in zip(*notes_of_p))
      columns = [np.concatenate([c, x]) for c, x in
                 zip(columns, (s, e, np.full(len(s), p, np.int64), v))]
  return tuple(columns)


_ALL_NOTES_OFF = b'\x00'.join(bytes([0x80 | channel, pitch, 0])
                               for channel in range(16) for pitch in range(128))
_END_OF_TRACK = b'\xff\x2f\x00'


def _check_all_closed(file_bytes, score):
  """Raises NotReproducible when a note of the track is never closed.

  symusic drops such notes without a trace, and pairs the note-offs that
  follow differently from pretty_midi (which closes every open note of a
  pitch at once). The track parsed again with a note-off for every channel
  and pitch before its end shows them: it has more notes."""
  if not file_bytes.endswith(_END_OF_TRACK):
    raise NotReproducible('no_end_of_track')
  body = file_bytes[_HEADER.size + 8:-len(_END_OF_TRACK)]
  closed = body + _ALL_NOTES_OFF + b'\x00' + _END_OF_TRACK
  track = (file_bytes[:_HEADER.size] + b'MTrk' + struct.pack('>L', len(closed))
           + closed)
  if _parse_score(track).note_num() != score.note_num():
    raise NotReproducible('unclosed_notes')


def _varint(data, offset):
  """(value, offset after it) of the variable-length quantity at offset."""
  value = 0
  for _ in range(4):
    if offset >= len(data):
      break
    byte = data[offset]
    offset += 1
    value = (value << 7) | (byte & 0x7F)
    if byte < 0x80:
      break
  return value, offset


def _check_running_status_after_sysex(file_bytes):
  """Raises NotReproducible when an event after a sysex event has no
  status byte: mido refuses that file, symusic reads on. Every F0 byte
  whose length, read as a sysex event's, ends on an F7 (a sysex message's
  last byte) is taken for one."""
  start = file_bytes.find(b'\xf0')
  while start >= 0:
    size, offset = _varint(file_bytes, start + 1)
    end = offset + size
    if size and end <= len(file_bytes) and file_bytes[end - 1] == 0xF7:
      _, offset = _varint(file_bytes, end)
      if offset < len(file_bytes) and file_bytes[offset] < 0x80:
        raise NotReproducible('running_status_after_sysex')
    start = file_bytes.find(b'\xf0', start + 1)


def _last_program_change_after_notes(body):
  """The offset in the track body `body` of the last byte that may be a
  program change following a note-on (-1: none can be). A program change's
  status byte is a C0-CF byte and a data byte (a running-status program
  change follows one), not in a tempo event's data; a note-on's, a 90-9F
  byte, a data byte and a velocity of 1-127 (the track's first note-on has
  one). False positives (such bytes in delta times or other events' data)
  only cost the exact walk of `_check_program_changes`."""
  data = np.frombuffer(body, np.uint8)
  if len(data) < 3:
    return -1
  data_byte = data < 0x80
  status = (data & 0xF0) == 0xC0
  # The three bytes of a tempo event (FF 51 03 tt tt tt) are no status.
  tempos = np.flatnonzero((data[:-2] == 0xFF) & (data[1:-1] == 0x51)
                          & (data[2:] == 0x03))
  for shift in (3, 4, 5):
    status[tempos[tempos + shift < len(data)] + shift] = False
  changes = np.flatnonzero(status[:-1] & data_byte[1:])
  note_ons = np.flatnonzero(((data[:-2] & 0xF0) == 0x90) & data_byte[1:-1]
                            & data_byte[2:] & (data[2:] > 0))
  if not len(changes) or not len(note_ons) or changes[-1] < note_ons[0]:
    return -1
  return int(changes[-1])


def _check_program_changes(file_bytes):
  """Raises NotReproducible when a program change comes while a note of its
  channel sounds. pretty_midi files a note under the program in force at its
  note-off, symusic under the one at its note-on. The track is walked event
  by event, as mido reads it (a meta event keeps the running status), only
  when `_last_program_change_after_notes` says a change may follow a note,
  and as far as the last such change (and any running-status ones after it)."""
  body = file_bytes[_HEADER.size + 8:]
  last = _last_program_change_after_notes(body)
  if last < 0:
    return
  programs = [0] * 16
  sounding = [dict() for _ in range(16)]   # channel -> {pitch: open note-ons}
  offset, status = 0, None
  # Past `last`, only program changes in running status can follow.
  while offset < len(body) and (
      offset <= last or (status is not None and status & 0xF0 == 0xC0)):
    _, offset = _varint(body, offset)
    if offset >= len(body):
      break
    byte = body[offset]
    if byte >= 0x80:
      offset += 1
      if byte != 0xFF:
        status = byte
      event = byte
    elif status is None:
      raise NotReproducible('running_status_without_status')
    else:
      event = status
    if event == 0xFF:
      size, offset = _varint(body, offset + 1)
      offset += size
    elif event in (0xF0, 0xF7):
      size, offset = _varint(body, offset)
      offset += size
    else:
      kind, channel = event & 0xF0, event & 0x0F
      if kind in (0xC0, 0xD0):
        if kind == 0xC0 and offset < len(body):
          program = body[offset]
          if program != programs[channel] and any(sounding[channel].values()):
            raise NotReproducible('program_change_while_a_note_sounds')
          programs[channel] = program
        offset += 1
        continue
      if offset + 1 >= len(body):
        break
      pitch, velocity = body[offset], body[offset + 1]
      offset += 2
      if kind == 0x90 and velocity:
        sounding[channel][pitch] = sounding[channel].get(pitch, 0) + 1
      elif kind in (0x80, 0x90):
        sounding[channel][pitch] = 0


def _last_tick(score):
  """The tick of the score's last event symusic keeps (a lower bound of the
  file's last event: symusic skips text, sysex and other meta events)."""
  ticks = [0]
  for events in (score.tempos, score.time_signatures, score.key_signatures):
    if len(events):
      ticks.append(int(events.numpy()['time'].max()))
  for track in score.tracks:
    notes = track.notes.numpy()
    if len(notes['time']):
      ticks.append(int((notes['time'].astype(np.int64) + notes['duration']).max()))
    for events in (track.controls, track.pitch_bends):
      if len(events):
        ticks.append(int(events.numpy()['time'].max()))
  return max(ticks)


# What the raw pass reads exactly, where symusic's parse has lost the order
# of events or the bytes of a name.
_RAW_REASONS = frozenset((
    'overlapping_notes_of_one_pitch', 'unclosed_notes', 'no_end_of_track',
    'program_change_while_a_note_sounds', 'controls_in_a_shared_track',
    'controls_without_notes', 'instruments_created_together',
    'track_names', 'tempos_at_one_tick'))


@dataclasses.dataclass
class _Instrument:
  """One of pretty_midi's instruments, times in ticks: notes (starts, ends,
  pitches, velocities), controls (ticks, numbers, values) and bends (ticks,
  values), each a tuple of int64 arrays."""
  program: int
  is_drum: bool
  name: str
  notes: tuple
  controls: tuple
  bends: tuple


@dataclasses.dataclass
class _Track:
  """What one track gives: its instruments in pretty_midi's order, its
  tempo events (ticks, microseconds per quarter; in the file's order where
  the raw pass read it), time and key signatures (symusic's), and a lower
  bound of its last tick."""
  instruments: list
  tempos: tuple
  score: object
  last_tick: int


def _symusic_track(file_bytes, score, name):
  """The track read from symusic's parse (see the module docstring).

  Raises:
    NotReproducible: symusic's parse cannot say what pretty_midi gives.
  """
  found = []   # (first note end, instrument)
  for track in score.tracks:
    notes = _kept_notes(track.notes.numpy())
    controls = track.controls.numpy()
    bends = track.pitch_bends.numpy()
    if not len(notes[0]):
      if len(controls['time']) or len(bends['time']):
        raise NotReproducible('controls_without_notes')
      continue
    found.append((int(notes[1].min()), _Instrument(
        int(track.program), bool(track.is_drum), name, notes,
        (controls['time'].astype(np.int64), controls['number'].astype(np.int64),
         controls['value'].astype(np.int64)),
        (bends['time'].astype(np.int64), bends['value'].astype(np.int64)))))
  if len(found) > 1:
    if any(len(i.controls[0]) or len(i.bends[0]) for _, i in found):
      raise NotReproducible('controls_in_a_shared_track')
    firsts = sorted(first for first, _ in found)
    if len(set(firsts)) != len(firsts):
      raise NotReproducible('instruments_created_together')
  # The costlier checks last: a parse of the track again, a walk of bytes.
  _check_all_closed(file_bytes, score)
  _check_program_changes(file_bytes)
  found.sort(key=lambda item: item[0])
  tempos = score.tempos.numpy()
  return _Track([i for _, i in found], (tempos['time'], tempos['mspq']), score,
                _last_tick(score))


def _read_track(file_bytes, first):
  """The `_Track` of a one-track MIDI file: from symusic's parse, or from
  the raw pass where that parse cannot say what pretty_midi gives.

  Raises:
    NotReproducible: neither can (mido would refuse the track, symusic
      refuses it, ...).
  """
  _check_running_status_after_sysex(file_bytes)
  score = _parse_score(file_bytes)
  try:
    name = _parse(file_bytes, score)
    return _symusic_track(file_bytes, score, name)
  except NotReproducible as e:
    if e.args[0] not in _RAW_REASONS:
      raise
  instruments, tempos, last_tick = _raw_track(file_bytes[_HEADER.size + 8:],
                                              first)
  return _Track(instruments, tempos, score, last_tick)


def read_midi(data, max_duration_seconds=None, max_qpm=None):
  """The NoteSequence note-seq's MIDI reader gives for `data` (notes in
  `canonical_note_order`), read with symusic and, where its parse has lost
  what pretty_midi needs, with the raw pass (`_raw_track`).

  `max_duration_seconds` and `max_qpm`: `readers.ReadLimits`' values; a file
  with an event past that duration even at that tempo is left to note-seq's
  reader, which refuses it before sizing its tables by it.

  Raises:
    NotReproducible: neither can say what note-seq would give.
  """
  if symusic is None:
    raise NotReproducible('symusic_not_installed')
  ticks_per_quarter, files = _track_chunks(data)
  tracks = [_read_track(f, number == 0) for number, f in enumerate(files)]
  for track in tracks:
    keys = track.score.key_signatures.numpy()
    if np.any(np.abs(keys['key'].astype(int)) > 7) or np.any(keys['tonality'] > 1):
      raise NotReproducible('invalid_key_signature')
  if max_duration_seconds is not None:
    last = max(track.last_tick for track in tracks)
    if last / (ticks_per_quarter * max_qpm / 60.0) > max_duration_seconds:
      raise NotReproducible('too_long')
  first = tracks[0]
  clock = _Clock(ticks_per_quarter, *first.tempos)

  sequence = music_pb2.NoteSequence()
  sequence.ticks_per_quarter = ticks_per_quarter
  sequence.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
  sequence.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
  signatures = first.score.time_signatures.numpy()
  for time, numerator, denominator in zip(
      clock.seconds(signatures['time']), signatures['numerator'].tolist(),
      signatures['denominator'].tolist()):
    sequence.time_signatures.add(time=time, numerator=numerator,
                                 denominator=denominator)
  keys = first.score.key_signatures.numpy()
  for time, sharps, mode in zip(clock.seconds(keys['time']),
                                keys['key'].tolist(), keys['tonality'].tolist()):
    tonic = (7 * sharps) % 12
    sequence.key_signatures.add(time=time, key=(tonic + 9 * mode) % 12,
                                mode=mode)
  _extend(sequence, 'tempos', {'time': clock.seconds(clock.ticks),
                               'qpm': clock.qpms(ticks_per_quarter)})

  instruments = [i for track in tracks for i in track.instruments]
  for number, instrument in enumerate(instruments):
    if instrument.name:
      sequence.instrument_infos.add(name=instrument.name, instrument=number)
  _add_notes(sequence, clock, instruments)
  for field, columns in (('pitch_bends', ('time', 'bend')),
                         ('control_changes', ('time', 'control_number',
                                              'control_value'))):
    rows = {name: [] for name in (*columns, 'instrument', 'program', 'is_drum')}
    for number, instrument in enumerate(instruments):
      events = instrument.bends if field == 'pitch_bends' else instrument.controls
      if not len(events[0]):
        continue
      for name, values in zip(columns, events):
        rows[name].append(clock.seconds(values) if name == 'time' else values)
      for name, value in (('instrument', number), ('program', instrument.program),
                          ('is_drum', instrument.is_drum)):
        rows[name].append(np.full(len(events[0]), int(value)))
    if rows['time']:
      _extend(sequence, field, {k: np.concatenate(v) for k, v in rows.items()})
  return sequence


def _add_notes(sequence, clock, instruments):
  """Every instrument's notes, in `canonical_note_order`; total_time."""
  parts = []
  for number, instrument in enumerate(instruments):
    start, end, pitch, velocity = instrument.notes
    parts.append((clock.seconds(start), pitch, np.full(len(pitch), number),
                  clock.seconds(end), velocity,
                  np.full(len(pitch), instrument.program),
                  np.full(len(pitch), int(instrument.is_drum))))
  if not parts:
    return
  start, pitch, instrument, end, velocity, program, drum = (
      np.concatenate(column) for column in zip(*parts))
  if not len(start):
    return
  order = np.lexsort((drum, program, velocity, end, instrument, pitch, start))
  _extend(sequence, 'notes', {
      'pitch': pitch[order], 'velocity': velocity[order],
      'start_time': start[order], 'end_time': end[order],
      'instrument': instrument[order], 'program': program[order],
      'is_drum': drum[order]})
  sequence.total_time = float(end.max())


# The data bytes of each status byte's channel message.
_DATA_BYTES = tuple(1 if 0xC0 <= status < 0xE0 else 2 for status in range(256))


def _raw_track(body, first):
  """pretty_midi's reading of one track's raw events `body` (an MTrk
  chunk's data), walked as mido reads them: (the track's `_Instrument`s in
  the order pretty_midi creates them, its tempo events in the file's order
  (`first` track only), its last tick).

  pretty_midi's rules, event by event: a note-on opens a note of its
  (channel, pitch); a note-off (or a note-on of velocity 0) closes every
  open note of its key begun at an earlier tick, under the channel's
  program at that moment, creating the (program, channel) instrument with
  the track's name so far, and keeps the notes begun at its own tick only
  when it closed others (else they are forgotten); notes never closed are
  dropped; a control or pitch bend goes to the (program, channel)
  instrument, else to the channel's straggler, whose events the first
  instrument of that channel later takes over (the very lists).

  Raises:
    NotReproducible: an event mido refuses or reads differently (running
      status without a status, after a sysex event, a system message, a
      data byte over 127, a tempo event not 3 bytes long, a track cut short).
  """
  end = len(body)
  pos, tick, status = 0, 0, 0
  programs = [0] * 16
  open_notes = {}   # channel << 7 | pitch: [(start tick, velocity)]
  made = {}         # (program, channel): [program, channel, name, notes, controls, bends]
  stragglers = {}   # channel: the same, not an instrument
  name = ''
  tempos = []
  try:
    while pos < end:
      byte = body[pos]
      pos += 1
      delta = byte & 0x7F
      while byte & 0x80:
        byte = body[pos]
        pos += 1
        delta = (delta << 7) | (byte & 0x7F)
      tick += delta
      byte = body[pos]
      if byte & 0x80:
        pos += 1
        if byte == 0xFF:   # a meta event; mido keeps the running status
          kind = body[pos]
          size, pos = _varint(body, pos + 1)
          if kind == 0x03:
            name = body[pos:pos + size].decode('latin-1')
          elif kind == 0x51 and first:
            if size != 3:
              raise NotReproducible('tempo_event_not_3_bytes')
            tempos.append((tick, (body[pos] << 16) | (body[pos + 1] << 8)
                           | body[pos + 2]))
          pos += size
          continue
        status = byte
        if byte >= 0xF0:
          if byte not in (0xF0, 0xF7):
            raise NotReproducible('system_message')
          size, pos = _varint(body, pos)
          pos += size
          continue
      elif status < 0x80:
        raise NotReproducible('running_status_without_status')
      elif status >= 0xF0:
        raise NotReproducible('running_status_after_sysex')
      kind = status & 0xF0
      channel = status & 0x0F
      if _DATA_BYTES[status] == 1:
        value = body[pos]
        pos += 1
        if value & 0x80:
          raise NotReproducible('data_byte_over_127')
        if kind == 0xC0:
          programs[channel] = value
        continue
      value, second = body[pos], body[pos + 1]
      pos += 2
      if (value | second) & 0x80:
        raise NotReproducible('data_byte_over_127')
      if kind == 0x90 and second:
        key = (channel << 7) | value
        notes = open_notes.get(key)
        if notes is None:
          open_notes[key] = [(tick, second)]
        else:
          notes.append((tick, second))
      elif kind == 0x80 or kind == 0x90:
        key = (channel << 7) | value
        notes = open_notes.get(key)
        if notes is None:
          continue
        closing = [n for n in notes if n[0] != tick] if notes[-1][0] == tick else notes
        if closing:
          program = programs[channel]
          instrument = made.get((program, channel))
          if instrument is None:
            straggler = stragglers.get(channel)
            instrument = [program, channel, name, [],
                          straggler[4] if straggler else [],
                          straggler[5] if straggler else []]
            made[(program, channel)] = instrument
          out = instrument[3]
          for start, velocity in closing:
            out.append((start, tick, value, velocity))
          if len(closing) != len(notes):
            open_notes[key] = [n for n in notes if n[0] == tick]
            continue
        del open_notes[key]
      elif kind == 0xB0 or kind == 0xE0:
        instrument = made.get((programs[channel], channel))
        if instrument is None:
          instrument = stragglers.get(channel)
          if instrument is None:
            instrument = stragglers[channel] = [0, channel, '', [], [], []]
        if kind == 0xB0:
          instrument[4].append((tick, value, second))
        else:
          instrument[5].append((tick, (value | (second << 7)) - 8192))
  except IndexError as e:
    raise NotReproducible('track_cut_short') from e
  if pos != end:
    raise NotReproducible('track_cut_short')
  instruments = [_Instrument(program, channel == 9, track_name,
                             _columns(notes, 4), _columns(controls, 3),
                             _columns(bends, 2))
                 for program, channel, track_name, notes, controls, bends
                 in made.values()]
  ticks, mspq = _columns(tempos, 2)
  return instruments, (ticks, mspq), tick


def _columns(rows, count):
  """`count` int64 arrays of the columns of `rows` (tuples)."""
  if not rows:
    return tuple(np.zeros(0, np.int64) for _ in range(count))
  return tuple(np.array(rows, np.int64).T)


_LAYOUTS = {}   # (message field, sub-field names): (dtype, {name: tag}, ints)


def _layout(sequence, field, names):
  """The packed record of one `field` message with sub-fields `names`:
  (numpy dtype, {column: its tag byte}, the integer columns)."""
  key = (field, names)
  if key not in _LAYOUTS:
    fields = sequence.DESCRIPTOR.fields_by_name[field].message_type.fields_by_name
    layout, tags, ints = [('tag', 'u1'), ('size', 'u1')], {}, []
    for name in names:
      double = fields[name].type == fields[name].TYPE_DOUBLE
      layout += [(name + '_tag', 'u1'), (name, '<f8' if double else 'u1')]
      tags[name + '_tag'] = (fields[name].number << 3) | (1 if double else 0)
      if not double:
        ints.append(name)
    _LAYOUTS[key] = (np.dtype(layout), tags, ints)
  return _LAYOUTS[key]


def _extend(sequence, field, columns):
  """Appends to the repeated message field `field` one message per row of
  `columns` ({sub-field name: array}), as protobuf wire bytes built with
  numpy: each sub-field's tag and value (a one-byte varint for integers in
  0..127, eight bytes for doubles) in one packed record per message. With a
  larger or negative integer anywhere, every row goes through `add`."""
  rows = len(next(iter(columns.values())))
  if not rows:
    return
  dtype, tags, ints = _layout(sequence, field, tuple(columns))
  if any(columns[name].min() < 0 or columns[name].max() >= 0x80 for name in ints):
    # Rare large values (an instrument number over 127): message by message.
    repeated = getattr(sequence, field)
    for row in range(rows):
      repeated.add(**{name: values[row].item() for name, values in columns.items()})
    return
  records = np.zeros(rows, dtype)
  records['tag'] = (sequence.DESCRIPTOR.fields_by_name[field].number << 3) | 2
  records['size'] = dtype.itemsize - 2
  for name, tag in tags.items():
    records[name] = tag
  for name, values in columns.items():
    records[name] = values
  sequence.MergeFromString(records.tobytes())


# What `compare_with_note_seq` finds.
EQUAL = 'equal'
DIFFERENT = 'different'
BOTH_FAIL = 'both_fail'
ONLY_FAST_READS = 'fast_reads_what_note_seq_refuses'
FALLBACK_PREFIX = 'fallback_'


def compare_with_note_seq(data, seconds=None):
  """What `read_midi` and note-seq's own reader make of the MIDI bytes
  `data`: EQUAL (the same NoteSequence, notes in `canonical_note_order`),
  DIFFERENT, FALLBACK_PREFIX + reason (`read_midi` leaves the file to
  note-seq, which reads it), BOTH_FAIL, or ONLY_FAST_READS. With `seconds`
  (a dict), each reader's time is added under 'note_seq' and 'fast'."""
  import time  # pylint: disable=import-outside-toplevel
  import warnings  # pylint: disable=import-outside-toplevel
  import note_seq  # pylint: disable=import-outside-toplevel
  seconds = {} if seconds is None else seconds
  start = time.perf_counter()
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    try:
      expected = canonical_note_order(note_seq.midi_to_note_sequence(data))
    except Exception:  # pylint: disable=broad-except
      expected = None
  middle = time.perf_counter()
  seconds['note_seq'] = seconds.get('note_seq', 0.0) + middle - start
  try:
    try:
      got = read_midi(data)
    finally:
      seconds['fast'] = seconds.get('fast', 0.0) + time.perf_counter() - middle
  except NotReproducible as e:
    return BOTH_FAIL if expected is None else FALLBACK_PREFIX + e.args[0]
  except Exception:  # pylint: disable=broad-except
    return BOTH_FAIL if expected is None else DIFFERENT
  if expected is None:
    return ONLY_FAST_READS
  return EQUAL if got == expected else DIFFERENT
