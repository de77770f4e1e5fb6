"""Hostile variants of MIDI files, for fuzzing the readers.

Each mutation takes a file's bytes and a `random.Random` and returns new
bytes: a truncation, flipped bytes, a huge or endless delta time, a bogus
chunk length or header, thousands of tracks or tempo changes, two files end
to end. Tests drive them with hypothesis (`st.randoms()`, so failures shrink)
and benchmarks/fuzz_benchmark.py with a seeded `random.Random`; see `mutate`.

The walkers here (`chunk_spans`, `delta_offsets`) read just enough of the
Standard MIDI File layout to aim a mutation; they stop quietly at the first
thing they do not understand, since their input is often already mutated.
"""

import struct

# Delta times to plant: the largest a 4-byte VLQ holds, and a few around
# pretty_midi's old 1e7-tick cap.
HUGE_DELTAS = (0x0FFFFFFF, 0x07FFFFFF, 10_000_001, 9_999_999, 1 << 21)
# Chunk lengths that lie: too small, off by one, larger than any file.
BOGUS_LENGTHS = (0, 1, 5, 7, 0x7FFFFFFF, 0xFFFFFFFF)


def vlq(value):
  """A MIDI variable-length quantity (7 bits a byte, high bit = more)."""
  out = [value & 0x7F]
  value >>= 7
  while value:
    out.append(0x80 | (value & 0x7F))
    value >>= 7
  return bytes(reversed(out))


def chunk(name, body):
  """An IFF chunk: 4-byte name, big-endian 32-bit length, body."""
  return name + struct.pack('>I', len(body)) + body


END_OF_TRACK = b'\x00\xff\x2f\x00'


def midi_file(tracks, format_type=1, division=480):
  """A Standard MIDI File of track bodies (end-of-track events appended)."""
  header = chunk(b'MThd', struct.pack('>HHH', format_type, len(tracks),
                                      division & 0xFFFF))
  return header + b''.join(chunk(b'MTrk', t + END_OF_TRACK) for t in tracks)


def note_track(pitches, ticks=240, channel=0, velocity=80):
  """A track body playing `pitches` one after another, `ticks` each."""
  body = bytearray()
  for pitch in pitches:
    body += b'\x00' + bytes([0x90 | channel, pitch & 0x7F, velocity])
    body += vlq(ticks) + bytes([0x80 | channel, pitch & 0x7F, 0])
  return bytes(body)


def tempo_event(delta, microseconds_per_beat):
  """A set-tempo meta event (FF 51 03 tttttt) after `delta` ticks."""
  return (vlq(delta) + b'\xff\x51\x03'
          + (microseconds_per_beat & 0xFFFFFF).to_bytes(3, 'big'))


def chunk_spans(data):
  """[(offset, name, declared length)] of the chunks, walking the headers."""
  spans = []
  offset = 0
  while offset + 8 <= len(data):
    name, length = struct.unpack('>4sI', data[offset:offset + 8])
    spans.append((offset, name, length))
    offset += 8 + length
  return spans


def _read_vlq(body, i):
  value = 0
  while i < len(body):
    byte = body[i]
    i += 1
    value = (value << 7) | (byte & 0x7F)
    if byte < 0x80:
      return value, i
  return value, i


def delta_offsets(body):
  """Offsets of each event's delta time in a track body (stops at junk)."""
  offsets = []
  i = 0
  status = None
  while i < len(body):
    offsets.append(i)
    _, i = _read_vlq(body, i)
    if i >= len(body):
      break
    byte = body[i]
    if byte >= 0x80:
      i += 1
      if byte < 0xF0:
        status = byte
      current = byte
    elif status is None:
      break
    else:
      current = status   # running status: `byte` is the first data byte
    if current == 0xFF:
      i += 1             # meta type
      length, i = _read_vlq(body, i)
      i += length
    elif current in (0xF0, 0xF7):
      length, i = _read_vlq(body, i)
      i += length
    elif current >= 0xF0:
      break
    else:
      i += 1 if current & 0xF0 in (0xC0, 0xD0) else 2
  return offsets


def _tracks(data):
  """[(body start, body end)] of the MTrk chunks that fit in `data`."""
  return [(offset + 8, min(offset + 8 + length, len(data)))
          for offset, name, length in chunk_spans(data) if name == b'MTrk']


def _replace(data, start, end, new):
  return data[:start] + new + data[end:]


def _with_length_fixed(data, body_start, delta, rng):
  """Adds `delta` to a track's declared length, or (1 in 3) leaves it wrong."""
  if rng.random() < 1 / 3:
    return data
  offset = body_start - 4
  (length,) = struct.unpack('>I', data[offset:offset + 4])
  return _replace(data, offset, offset + 4,
                  struct.pack('>I', (length + delta) & 0xFFFFFFFF))


def _pick_delta(data, rng):
  """(track body start, delta start, delta end) of a random event, or None."""
  tracks = _tracks(data)
  if not tracks:
    return None
  start, end = rng.choice(tracks)
  offsets = delta_offsets(data[start:end])
  if not offsets:
    return None
  at = start + rng.choice(offsets)
  _, stop = _read_vlq(data, at)
  return start, at, stop


# The mutations. Each is (data, rng, heavy) -> bytes; `heavy` allows the
# costly sizes (seconds of parsing, hundreds of MB), for long fuzzing runs.

# With `heavy`, the share of sized mutations that take a costly size: enough
# to exercise the reader's limits, few enough to leave time for the rest.
HEAVY_SHARE = 0.1


def _size(rng, light, costly, heavy):
  if heavy and rng.random() < HEAVY_SHARE:
    return rng.choice(costly)
  return rng.choice(light)



def truncate(data, rng, heavy=False):
  del heavy
  return data[:rng.randrange(len(data) + 1)]


def flip_bytes(data, rng, heavy=False):
  del heavy
  if not data:
    return data
  out = bytearray(data)
  for _ in range(rng.randint(1, 16)):
    i = rng.randrange(len(out))
    out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
  return bytes(out)


def huge_delta(data, rng, heavy=False):
  """One event's delta time set to a huge value (a 4-byte VLQ at most)."""
  del heavy
  picked = _pick_delta(data, rng)
  if picked is None:
    return data
  body, start, stop = picked
  new = vlq(rng.choice(HUGE_DELTAS))
  data = _replace(data, start, stop, new)
  return _with_length_fixed(data, body, len(new) - (stop - start), rng)


def endless_delta(data, rng, heavy=False):
  """A delta time of thousands of continuation bytes (the spec allows 4)."""
  picked = _pick_delta(data, rng)
  if picked is None:
    return data
  body, start, stop = picked
  size = _size(rng, (5, 64, 4096, 10_000), (300_000, 1_000_000), heavy)
  new = bytes([rng.choice((0x80, 0xFF))]) * size + b'\x00'
  data = _replace(data, start, stop, new)
  return _with_length_fixed(data, body, len(new) - (stop - start), rng)


def bogus_chunk_length(data, rng, heavy=False):
  """The MThd or an MTrk length field set to a lie."""
  del heavy
  spans = chunk_spans(data)
  if not spans:
    return data
  offset, _, length = rng.choice(spans)
  new = rng.choice(BOGUS_LENGTHS + ((length + rng.choice((-3, -1, 1, 2))) & 0xFFFFFFFF,))
  return _replace(data, offset + 4, offset + 8, struct.pack('>I', new))


def bogus_header(data, rng, heavy=False):
  """MThd's format, track count or division set to an odd value."""
  del heavy
  if len(data) < 14:
    return data
  field = rng.randrange(3)
  value = rng.choice({
      0: (0, 1, 2, 3, 0xFFFF),
      1: (0, 1, 0x7FFF, 0xFFFF, rng.randrange(0x10000)),
      2: (0, 1, 0x7FFF, 0x8000, 0xE728, 0xFFFF, rng.randrange(0x10000)),
  }[field])
  return _replace(data, 8 + 2 * field, 10 + 2 * field, struct.pack('>H', value))


def many_tracks(data, rng, heavy=False):
  """A type-1 file of thousands of copies of a small track.

  The header's count matches, or (1 in 4) claims 65535.
  """
  tracks = [data[s:e] for s, e in _tracks(data)]
  small = min(tracks, key=len) if tracks else b''
  if len(small) > 256 or rng.random() < 0.5:
    small = note_track([rng.randrange(128)]) + END_OF_TRACK
  count = _size(rng, (1000, 3000), (20_000,), heavy)
  division = struct.unpack('>H', data[12:14])[0] if len(data) >= 14 else 480
  out = (chunk(b'MThd', struct.pack('>HHH', 1, count, division))
         + chunk(b'MTrk', small) * count)
  if rng.random() < 0.25:
    out = _replace(out, 10, 12, b'\xff\xff')
  return out


def many_tempos(data, rng, heavy=False):
  """Thousands of tempo changes (1 us to 16.7 s a beat) at a track's start."""
  tracks = _tracks(data)
  count = _size(rng, (1000, 3000), (100_000,), heavy)
  tempos = b''.join(
      tempo_event(rng.choice((0, 0, 1, 7)),
                  rng.choice((1, 500_000, 0xFFFFFF, rng.randrange(1 << 24))))
      for _ in range(count))
  if not tracks:
    return midi_file([tempos + note_track([60, 64, 67])])
  start, _ = rng.choice(tracks)
  data = _replace(data, start, start, tempos)
  return _with_length_fixed(data, start, len(tempos), rng)


def note_flood(data, rng, heavy=False):
  """A track of thousands of notes (millions when heavy)."""
  del data
  count = _size(rng, (500, 5_000), (200_000, 2_000_000), heavy)
  return midi_file([note_track([60 + i % 24 for i in range(count)], ticks=1)])


MUTATIONS = (truncate, flip_bytes, huge_delta, endless_delta,
             bogus_chunk_length, bogus_header, many_tracks, many_tempos,
             note_flood)


def mutate(seeds, rng, heavy=False, max_steps=3):
  """A hostile file made from real ones.

  Args:
    seeds: list of real MIDI files' bytes.
    rng: a `random.Random` (or hypothesis' `st.randoms()` draw).
    heavy: allow the costly sizes (see the mutations), in HEAVY_SHARE of
      the sized mutations.
    max_steps: most mutations applied one after another.

  Returns:
    (data, names): the bytes and the mutations applied, in order
    ('concatenate' when another seed was appended).
  """
  data = rng.choice(seeds)
  names = []
  for _ in range(rng.randint(1, max_steps)):
    if rng.random() < 0.1:
      data += rng.choice(seeds)
      names.append('concatenate')
      continue
    mutation = rng.choice(MUTATIONS)
    data = mutation(data, rng, heavy)
    names.append(mutation.__name__)
  return data, names
