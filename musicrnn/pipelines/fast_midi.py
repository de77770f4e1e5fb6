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
  tick; notes are listed in `canonical_note_order`, which the note-seq path
  of `readers` uses too (pretty_midi lists them in the order of their
  note-off events, which no fast parser reports).

Where symusic's output cannot say what pretty_midi would do, `read_midi`
raises `NotReproducible` with a short reason and the caller reads the file
with note-seq: overlapping notes of one pitch (pretty_midi closes them
together, symusic one by one), several instruments of one track whose first
notes end together, controls or pitch bends in a track that holds several
instruments (pretty_midi's straggler rules), notes never released (symusic
drops them and pairs later note-offs differently), a program change while a
note of its channel sounds (pretty_midi files the note under the program at
its note-off, symusic at its note-on), an event without a status
byte after a sysex event and key signatures out of range (mido refuses
both), tempo events at one tick, non-ASCII track names it cannot match, an
event past the duration limit, a file symusic refuses, chunks other than one
header and its tracks, and SMPTE time division. tests/test_fast_midi.py
checks equality on every fixture and, when ../shared/data is present, on
every 10th MIDI file of each corpus and every edge case.
"""

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
  """(ticks per quarter, [one MIDI file per track]) of a standard MIDI file."""
  if len(data) < _HEADER.size:
    raise NotReproducible('not_a_plain_midi_file')
  tag, length, fmt, count, division = _HEADER.unpack_from(data)
  if tag != b'MThd' or length != 6 or fmt not in (0, 1) or count < 1:
    raise NotReproducible('not_a_plain_midi_file')
  if division & 0x8000 or division == 0:
    raise NotReproducible('smpte_division')
  offset = _HEADER.size
  files = []
  while offset < len(data):
    if offset + 8 > len(data) or data[offset:offset + 4] != b'MTrk':
      raise NotReproducible('not_a_plain_midi_file')
    (size,) = struct.unpack_from('>L', data, offset + 4)
    end = offset + 8 + size
    if end > len(data):
      raise NotReproducible('not_a_plain_midi_file')
    files.append(_HEADER.pack(b'MThd', 6, 1, 1, division) + data[offset:end])
    offset = end
  if len(files) != count:
    raise NotReproducible('not_a_plain_midi_file')
  return division, files


class _Clock:
  """pretty_midi's tick -> seconds: `_load_tempo_changes` and
  `_update_tick_to_time`, without the table."""

  def __init__(self, ticks_per_quarter, tempo_ticks, tempo_mspq):
    scales = [(0, 60.0 / (120.0 * ticks_per_quarter))]
    for tick, mspq in zip(tempo_ticks.tolist(), tempo_mspq.tolist()):
      scale = 60.0 / ((6e7 / mspq) * ticks_per_quarter)
      if tick == 0:
        scales = [(0, scale)]
      elif scale != scales[-1][1]:
        scales.append((tick, scale))
    self.ticks = np.array([t for t, _ in scales], np.int64)
    self.scales = np.array([s for _, s in scales], np.float64)
    # The time of each tempo's first tick, accumulated as pretty_midi does.
    self.starts = np.zeros(len(scales))
    last = 0.0
    for i in range(1, len(scales)):
      last = last + self.scales[i - 1] * float(self.ticks[i] - self.ticks[i - 1])
      self.starts[i] = last

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


def _parse(file_bytes):
  """(symusic's Score of a one-track MIDI file, the track's name as mido
  reads it: Latin-1, where symusic drops what is not UTF-8)."""
  names = _names(file_bytes)
  score = _parse_score(file_bytes)
  tempos = score.tempos.numpy()
  ticks = tempos['time']
  if len(ticks) > 1 and np.any((ticks[1:] == ticks[:-1]) &
                               (tempos['mspq'][1:] != tempos['mspq'][:-1])):
    # Which one pretty_midi keeps follows the file's order, which symusic's
    # sort does not keep for many tempos.
    raise NotReproducible('tempos_at_one_tick')
  symusic_names = {track.name for track in score.tracks}
  if len(symusic_names) > 1:
    raise NotReproducible('non_ascii_track_name')
  if not symusic_names:
    return score, ''   # no notes: no instrument to name
  symusic_name = symusic_names.pop()
  if all(name is not None and name.isascii() for name in names):
    return score, symusic_name
  # A name with bytes over 127: when one event alone can be it, and symusic
  # kept what of it is UTF-8, mido's reading is its Latin-1.
  if (len(names) != 1 or names[0] is None
      or names[0].decode('utf-8', 'ignore') != symusic_name):
    raise NotReproducible('non_ascii_track_name')
  return score, names[0].decode('latin-1')


def _closed_together(starts, ends, velocities):
  """pretty_midi's notes of one pitch of a track where some overlap: a
  note-off closes every open note of its pitch that did not start on its
  tick. `starts` (in file order), `ends` and `velocities` are symusic's notes
  of that pitch, which a note-off closes one at a time: the note-on and
  note-off ticks are the same. Returns [(start, end, velocity)]."""
  ons, offs = {}, set(ends)
  for start, velocity in zip(starts, velocities):
    ons.setdefault(start, []).append((start, velocity))
  open_notes, closed = [], []
  for tick in sorted(set(ons) | offs):
    if tick in offs and tick in ons:
      # What comes first at this tick, in the file, decides: unknown here.
      raise NotReproducible('overlapping_notes_of_one_pitch')
    if tick in offs:
      closed.extend((start, tick, velocity) for start, velocity in open_notes)
      open_notes = []
    open_notes.extend(ons.get(tick, ()))
  return closed


def _kept_notes(notes):
  """A track's notes (numpy fields) as pretty_midi keeps them: (starts,
  ends, pitches, velocities) in ticks."""
  start = notes['time'].astype(np.int64)
  end = start + notes['duration'].astype(np.int64)
  pitch = notes['pitch'].astype(np.int64)
  velocity = notes['velocity'].astype(np.int64)
  order = np.lexsort((start, pitch))   # stable: file order within a tick
  same = pitch[order][1:] == pitch[order][:-1]
  overlapping = same & (start[order][1:] < end[order][:-1])
  # A note whose note-off falls on its own note-on's tick (symusic: length
  # 0) closes nothing in pretty_midi, which then forgets it.
  keep = end > start
  if not overlapping.any():
    return start[keep], end[keep], pitch[keep], velocity[keep]
  replaced = np.unique(pitch[order][1:][overlapping])
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


def read_midi(data, max_duration_seconds=None, max_qpm=None):
  """The NoteSequence note-seq's MIDI reader gives for `data` (notes in
  `canonical_note_order`), read with symusic.

  `max_duration_seconds` and `max_qpm`: `readers.ReadLimits`' values; a file
  with an event past that duration even at that tempo is left to note-seq's
  reader, which refuses it before sizing its tables by it.

  Raises:
    NotReproducible: symusic's parse cannot say what note-seq would give.
  """
  if symusic is None:
    raise NotReproducible('symusic_not_installed')
  ticks_per_quarter, files = _track_chunks(data)
  scores, names = zip(*(_parse(f) for f in files))
  for file_bytes, score in zip(files, scores):
    _check_running_status_after_sysex(file_bytes)
    _check_all_closed(file_bytes, score)
    _check_program_changes(file_bytes)
  for score in scores:
    keys = score.key_signatures.numpy()
    if np.any(np.abs(keys['key'].astype(int)) > 7) or np.any(keys['tonality'] > 1):
      raise NotReproducible('invalid_key_signature')
  if max_duration_seconds is not None:
    last = max(_last_tick(score) for score in scores)
    if last / (ticks_per_quarter * max_qpm / 60.0) > max_duration_seconds:
      raise NotReproducible('too_long')
  first = scores[0]
  tempos = first.tempos.numpy()
  clock = _Clock(ticks_per_quarter, tempos['time'], tempos['mspq'])

  sequence = music_pb2.NoteSequence()
  sequence.ticks_per_quarter = ticks_per_quarter
  sequence.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
  sequence.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
  signatures = first.time_signatures.numpy()
  for time, numerator, denominator in zip(
      clock.seconds(signatures['time']), signatures['numerator'].tolist(),
      signatures['denominator'].tolist()):
    sequence.time_signatures.add(time=time, numerator=numerator,
                                 denominator=denominator)
  keys = first.key_signatures.numpy()
  for time, sharps, mode in zip(clock.seconds(keys['time']),
                                keys['key'].tolist(), keys['tonality'].tolist()):
    tonic = (7 * sharps) % 12
    sequence.key_signatures.add(time=time, key=(tonic + 9 * mode) % 12,
                                mode=mode)
  for time, qpm in zip(clock.seconds(clock.ticks),
                       clock.qpms(ticks_per_quarter)):
    sequence.tempos.add(time=time, qpm=qpm)

  instruments = []   # (first note end, symusic track, notes, name)
  for score, name in zip(scores, names):
    found = []
    for track in score.tracks:
      notes = _kept_notes(track.notes.numpy())
      controls = track.controls.numpy()
      bends = track.pitch_bends.numpy()
      if not len(notes[0]):
        if len(controls['time']) or len(bends['time']):
          raise NotReproducible('controls_without_notes')
        continue
      found.append((int(notes[1].min()), track, notes, name))
    if len(found) > 1:
      if any(len(t.controls.numpy()['time']) or len(t.pitch_bends.numpy()['time'])
             for _, t, _, _ in found):
        raise NotReproducible('controls_in_a_shared_track')
      firsts = sorted(item[0] for item in found)
      if len(set(firsts)) != len(firsts):
        raise NotReproducible('instruments_created_together')
    found.sort(key=lambda item: item[0])
    instruments.extend(found)

  for number, (_, _, _, name) in enumerate(instruments):
    if name:
      sequence.instrument_infos.add(name=name, instrument=number)
  _add_notes(sequence, clock, instruments)
  for number, (_, track, _, _) in enumerate(instruments):
    bends = track.pitch_bends.numpy()
    for time, bend in zip(clock.seconds(bends['time']).tolist(),
                          bends['value'].tolist()):
      sequence.pitch_bends.add(instrument=number, program=int(track.program),
                               time=time, bend=bend, is_drum=bool(track.is_drum))
  columns = {name: [] for name in ('time', 'control_number', 'control_value',
                                   'instrument', 'program', 'is_drum')}
  for number, (_, track, _, _) in enumerate(instruments):
    controls = track.controls.numpy()
    columns['time'].append(clock.seconds(controls['time']))
    columns['control_number'].append(controls['number'])
    columns['control_value'].append(controls['value'])
    for name, value in (('instrument', number), ('program', track.program),
                        ('is_drum', track.is_drum)):
      columns[name].append(np.full(len(controls['time']), int(value)))
  _extend(sequence, 'control_changes',
          {k: np.concatenate(v) if v else np.zeros(0) for k, v in columns.items()})
  return sequence


def _add_notes(sequence, clock, instruments):
  """Every instrument's notes, in `canonical_note_order`; total_time."""
  parts = []
  for number, (_, track, (start, end, pitch, velocity), _) in enumerate(instruments):
    parts.append((clock.seconds(start), pitch, np.full(len(pitch), number),
                  clock.seconds(end), velocity,
                  np.full(len(pitch), int(track.program)),
                  np.full(len(pitch), int(track.is_drum))))
  if not parts:
    return
  start, pitch, instrument, end, velocity, program, drum = (
      np.concatenate(column) for column in zip(*parts))
  order = np.lexsort((drum, program, velocity, end, instrument, pitch, start))
  _extend(sequence, 'notes', {
      'pitch': pitch[order], 'velocity': velocity[order],
      'start_time': start[order], 'end_time': end[order],
      'instrument': instrument[order], 'program': program[order],
      'is_drum': drum[order]})
  sequence.total_time = float(end.max())


def _extend(sequence, field, columns):
  """Appends to the repeated message field `field` one message per row of
  `columns` ({sub-field name: array}), as protobuf wire bytes built with
  numpy: each sub-field's tag and value (a one-byte varint for integers in
  0..127, eight bytes for doubles) in one packed record per message. With a
  larger or negative integer anywhere, every row goes through `add`."""
  descriptor = sequence.DESCRIPTOR.fields_by_name[field]
  fields = descriptor.message_type.fields_by_name
  rows = len(next(iter(columns.values())))
  if not rows:
    return
  small = np.ones(rows, bool)
  layout = [('tag', 'u1'), ('size', 'u1')]
  for name, values in columns.items():
    if fields[name].type == fields[name].TYPE_DOUBLE:
      layout += [(name + '_tag', 'u1'), (name, '<f8')]
    else:
      small &= (values >= 0) & (values < 0x80)
      layout += [(name + '_tag', 'u1'), (name, 'u1')]
  if not small.all():
    # Rare large values (an instrument number over 127): message by message.
    repeated = getattr(sequence, field)
    for row in range(rows):
      repeated.add(**{name: values[row].item() for name, values in columns.items()})
    return
  records = np.zeros(rows, np.dtype(layout))
  records['tag'] = (descriptor.number << 3) | 2
  records['size'] = records.dtype.itemsize - 2
  for name, values in columns.items():
    double = fields[name].type == fields[name].TYPE_DOUBLE
    records[name + '_tag'] = (fields[name].number << 3) | (1 if double else 0)
    records[name] = values
  sequence.MergeFromString(records.tobytes())


# What `compare_with_note_seq` finds.
EQUAL = 'equal'
DIFFERENT = 'different'
BOTH_FAIL = 'both_fail'
ONLY_FAST_READS = 'fast_reads_what_note_seq_refuses'
FALLBACK_PREFIX = 'fallback_'


def compare_with_note_seq(data):
  """What `read_midi` and note-seq's own reader make of the MIDI bytes
  `data`: EQUAL (the same NoteSequence, notes in `canonical_note_order`),
  DIFFERENT, FALLBACK_PREFIX + reason (`read_midi` leaves the file to
  note-seq, which reads it), BOTH_FAIL, or ONLY_FAST_READS."""
  import warnings  # pylint: disable=import-outside-toplevel
  import note_seq  # pylint: disable=import-outside-toplevel
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    try:
      expected = canonical_note_order(note_seq.midi_to_note_sequence(data))
    except Exception:  # pylint: disable=broad-except
      expected = None
  try:
    got = read_midi(data)
  except NotReproducible as e:
    return BOTH_FAIL if expected is None else FALLBACK_PREFIX + e.args[0]
  except Exception:  # pylint: disable=broad-except
    return BOTH_FAIL if expected is None else DIFFERENT
  if expected is None:
    return ONLY_FAST_READS
  return EQUAL if got == expected else DIFFERENT
