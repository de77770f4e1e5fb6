"""Hostile MIDI through musicrnn_convert's reading path.

Mutations of the committed MIDI fixtures (tests/midi_mutations.py:
truncations, flipped bytes, huge and endless delta times, bogus chunk
lengths and headers, thousands of tracks or tempo changes, concatenations)
go through the isolated reader that the convert DoFn uses. Nothing may
escape but a ConversionError with a known reason, and the test process must
stay small and alive. benchmarks/fuzz_benchmark.py runs the same mutations
for minutes.

Found while writing this, and kept below as regression tests:
- a 37-byte file with one delta time of 0x0FFFFFFF made pretty_midi build a
  2 GB tick-to-time table (6.3 GB peak, 8 s; note-seq lifts pretty_midi's
  cap to 1e10 ticks): now `too_long` before the table is built;
- the same delta at 30,000 ticks per beat passes that check but still asks
  for gigabytes: `out_of_memory` in the child;
- a delta time of a million 0xFF bytes makes mido build a million-digit
  number in quadratic time (1 MB: hours): `timeout`.
"""

import collections
import json
import os
import random
import resource
import signal
import threading

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

import midi_mutations as mm
from musicrnn.pipelines import convert
from musicrnn.pipelines import isolation
from musicrnn.pipelines import readers
import testing_lib

SEED_PATHS = sorted(
    testing_lib.testdata(folder, name)
    for folder in ('midi', 'pop')
    for name in os.listdir(testing_lib.testdata(folder)))
# Tight limits keep the suite's budget: no mutation below needs either
# (the heavy sizes are for the benchmark).
FUZZ_LIMITS = readers.ReadLimits(max_seconds_per_file=5.0,
                                 max_memory_per_file_mb=256,
                                 max_file_bytes=16 * 1024 * 1024)
MAX_EXAMPLES = 150


def _seed_bytes():
  seeds = []
  for path in SEED_PATHS:
    with open(path, 'rb') as f:
      seeds.append(f.read())
  return seeds


SEEDS = _seed_bytes()


def huge_delta_file(division=480):
  """One note ending 0x0FFFFFFF ticks after it starts: 37 bytes."""
  return mm.midi_file([b'\x00\x90\x3c\x50' + mm.vlq(0x0FFFFFFF) + b'\x80\x3c\x00'],
                      division=division)


def endless_delta_file(size=2_000_000):
  """A delta time of `size` 0xFF bytes: mido needs hours for 2 MB."""
  return mm.midi_file([b'\xff' * size + b'\x00\x90\x3c\x50'])


def many_tracks_file(count=3000):
  return mm.midi_file([mm.note_track([48 + i % 24]) for i in range(count)])


@pytest.fixture(scope='module')
def reader():
  with isolation.IsolatedReader(FUZZ_LIMITS) as r:
    yield r


def _outcome(reader_, data):
  """'converted' or the failure reason; anything else escaping fails."""
  try:
    sequences, failures = reader_.read(data, 'fuzzed.mid')
  except readers.ConversionError as e:
    assert e.reason in readers.REASONS, e.reason
    assert str(e) and e.exception_type
    return e.reason
  assert sequences and not failures
  for sequence in sequences:
    assert sequence.notes
    assert sequence.id == readers.content_hash(data)
  return 'converted'


# Mostly mutated fixtures; some raw bytes behind a real header.
hostile_midi = st.one_of(
    st.randoms(use_true_random=False).map(lambda rng: mm.mutate(SEEDS, rng)[0]),
    st.binary(max_size=4096).map(
        lambda tail: mm.chunk(b'MThd', b'\x00\x01\x00\x02\x01\xe0') + tail))


def test_fuzzed_midi_ends_converted_or_dead_lettered(reader):
  outcomes = collections.Counter()
  peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

  @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
            database=None, suppress_health_check=[HealthCheck.too_slow])
  @given(data=hostile_midi)
  def check(data):
    outcomes[_outcome(reader, data)] += 1

  check()
  tried = sum(outcomes.values())
  print(f'\nfuzz: {tried} inputs tried: {dict(sorted(outcomes.items()))}; '
        f'reader restarts {reader.restarts}')
  assert tried >= MAX_EXAMPLES
  assert outcomes['converted'] > 0 and tried - outcomes['converted'] > 0
  # Parsing happened in the child: the test process did not grow (kB).
  growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
  assert growth < 200 * 1024


def test_mutations_are_deterministic_and_hostile():
  first = [mm.mutate(SEEDS, random.Random(s)) for s in range(50)]
  again = [mm.mutate(SEEDS, random.Random(s)) for s in range(50)]
  assert first == again
  assert sum(data not in SEEDS for data, _ in first) >= 45
  names = {name for _, applied in first for name in applied}
  assert names >= {'truncate', 'flip_bytes', 'huge_delta', 'many_tracks'}


def test_delta_offsets_walk_a_real_track():
  data = mm.midi_file([mm.note_track([60, 62, 64])])
  ((start, end),) = [(o + 8, o + 8 + n) for o, name, n in mm.chunk_spans(data)
                     if name == b'MTrk']
  # Six note events and the end of track, running status or not.
  assert len(mm.delta_offsets(data[start:end])) == 7


def test_reader_reuses_its_child_and_matches_in_process_reading(reader):
  path = testing_lib.testdata('midi', 'chpn-p7.mid')
  with open(path, 'rb') as f:
    data = f.read()
  (isolated,), _ = reader.read(data, path)
  pid = reader.pid
  (again,), _ = reader.read(data, path)
  assert reader.pid == pid
  (local,), _ = readers.read_music_bytes(data, path, FUZZ_LIMITS)
  assert isolated == again == local


def test_a_child_started_ahead_serves_the_next_reader():
  # A memory limit no other test uses: its spare is this test's alone.
  limits = readers.ReadLimits(max_seconds_per_file=30, max_memory_per_file_mb=333)
  isolation.start_ahead(limits)
  ahead, _ = isolation._SPARES[333]  # pylint: disable=protected-access
  isolation.start_ahead(limits)      # one is enough
  assert isolation._SPARES[333][0] is ahead  # pylint: disable=protected-access
  with isolation.IsolatedReader(limits) as r:
    (sequence,), _ = r.read(SEEDS[0], 'a.mid')
    assert r.pid == ahead.pid and sequence.notes
  assert 333 not in isolation._SPARES  # pylint: disable=protected-access
  # One that died while it waited is replaced.
  isolation.start_ahead(limits)
  dead, _ = isolation._SPARES[333]  # pylint: disable=protected-access
  dead.kill()
  dead.wait()
  with isolation.IsolatedReader(limits) as r:
    (sequence,), _ = r.read(SEEDS[0], 'a.mid')
    assert r.pid not in (None, dead.pid) and sequence.notes


def test_in_process_when_both_limits_are_zero():
  limits = readers.ReadLimits(max_seconds_per_file=0, max_memory_per_file_mb=0)
  assert not limits.isolated and readers.ReadLimits().isolated
  with isolation.IsolatedReader(limits) as r:
    (sequence,), _ = r.read(SEEDS[0], 'a.mid')
    assert r.pid is None
  assert sequence.notes


def test_negative_limits_are_refused():
  with pytest.raises(ValueError, match='max_seconds_per_file'):
    readers.ReadLimits(max_seconds_per_file=-1)
  with pytest.raises(ValueError, match='max_memory_per_file_mb'):
    readers.ReadLimits(max_memory_per_file_mb=-1)


def test_huge_delta_is_too_long_before_any_table_is_built():
  # In-process, no sandbox: this file once took 8 s and 6.3 GB here.
  limits = readers.ReadLimits(max_seconds_per_file=0, max_memory_per_file_mb=0)
  data = huge_delta_file()
  assert len(data) == 37
  with pytest.raises(readers.ConversionError) as info:
    readers.read_music_bytes(data, 'huge.mid', limits)
  assert info.value.reason == readers.REASON_TOO_LONG
  assert 'tick 268435455' in str(info.value)


def test_timeout_stops_the_child_and_the_next_file_reads():
  limits = readers.ReadLimits(max_seconds_per_file=0.5, max_memory_per_file_mb=256)
  with isolation.IsolatedReader(limits) as r:
    r.read(SEEDS[0], 'good.mid')
    pid = r.pid
    with pytest.raises(readers.ConversionError) as info:
      r.read(endless_delta_file(), 'endless.mid')
    assert info.value.reason == readers.REASON_TIMEOUT
    assert '0.5 s' in str(info.value)
    assert r.pid is None
    with pytest.raises(ProcessLookupError):
      os.kill(pid, 0)
    (sequence,), _ = r.read(SEEDS[0], 'good.mid')
    assert sequence.notes and r.restarts == 1


@pytest.mark.parametrize('name, data', [
    # A 2 GB tick-to-time table (30,000 ticks per beat keeps it under the
    # duration check).
    ('fine_division.mid', huge_delta_file(division=30000)),
    # 200,000 notes: some 150 MB of mido and pretty_midi objects.
    ('flood.mid', mm.midi_file([mm.note_track([60] * 200_000, ticks=1)])),
], ids=['tick_table', 'note_flood'])
def test_memory_limit_gives_out_of_memory(name, data):
  # note-seq's reader: symusic's needs neither the table nor an object per
  # note (test_symusic_reads_within_the_limit).
  limits = readers.ReadLimits(max_seconds_per_file=60, max_memory_per_file_mb=64,
                              midi_reader='note_seq')
  with isolation.IsolatedReader(limits) as r:
    with pytest.raises(readers.ConversionError) as info:
      r.read(data, name)
    assert info.value.reason == readers.REASON_OUT_OF_MEMORY
    assert 'max_memory_per_file_mb=64' in str(info.value)
    (sequence,), _ = r.read(SEEDS[0], 'good.mid')
    assert sequence.notes


def test_symusic_reads_within_the_limit():
  limits = readers.ReadLimits(max_seconds_per_file=60, max_memory_per_file_mb=64)
  with isolation.IsolatedReader(limits) as r:
    (table,), _ = r.read(huge_delta_file(division=30000), 'fine_division.mid')
  assert len(table.notes) == 1 and table.total_time == pytest.approx(4473.9, abs=0.1)
  assert not r.counts   # read by symusic


def test_a_dead_child_is_reader_crashed():
  limits = readers.ReadLimits(max_seconds_per_file=60, max_memory_per_file_mb=256)
  with isolation.IsolatedReader(limits) as r:
    r.read(SEEDS[0], 'good.mid')
    killer = threading.Timer(0.5, os.kill, (r.pid, signal.SIGKILL))
    killer.start()
    try:
      with pytest.raises(readers.ConversionError) as info:
        r.read(endless_delta_file(), 'endless.mid')
    finally:
      killer.cancel()
    assert info.value.reason == readers.REASON_READER_CRASHED
    assert 'SIGKILL' in str(info.value)
    (sequence,), _ = r.read(SEEDS[0], 'good.mid')
    assert sequence.notes


def _hostile_folder(root):
  files = {
      'good.mid': SEEDS[SEED_PATHS.index(testing_lib.testdata('midi', 'chpn-p7.mid'))],
      'truncated.mid': SEEDS[0][:len(SEEDS[0]) // 2],
      'tracks_3000.mid': many_tracks_file(),
      'huge_delta.mid': huge_delta_file(),
      'huge_delta_fine_division.mid': huge_delta_file(division=30000),
      'endless_delta.mid': endless_delta_file(),
  }
  os.makedirs(root, exist_ok=True)
  for name, data in files.items():
    with open(os.path.join(root, name), 'wb') as f:
      f.write(data)
  return root


@pytest.mark.parametrize('midi_reader', readers.MIDI_READERS)
def test_convert_directory_dead_letters_hostile_files(tmp_path, midi_reader):
  root = _hostile_folder(str(tmp_path / 'hostile'))
  output = str(tmp_path / 'ns.tfrecord')
  limits = readers.ReadLimits(max_seconds_per_file=3, max_memory_per_file_mb=256,
                              midi_reader=midi_reader)
  summary = convert.convert_directory(root, output, limits=limits)
  assert summary.adds_up()
  # The fine-division file's 2 GB tick table is note-seq's; symusic reads it
  # (one 75-minute note). Every other file fares the same with both readers.
  table = midi_reader == 'note_seq'
  assert (summary.files_seen, summary.converted, summary.failed) == (
      (6, 2, 4) if table else (6, 3, 3))
  assert summary.failed_by_reason == {
      'midi_parse_error': 1, 'too_long': 1, 'timeout': 1,
      **({'out_of_memory': 1} if table else {})}
  with open(output + convert.DEADLETTER_SUFFIX) as f:
    reasons = {e['filename']: e['reason'] for e in map(json.loads, f)}
  assert reasons == {
      'truncated.mid': 'midi_parse_error', 'huge_delta.mid': 'too_long',
      **({'huge_delta_fine_division.mid': 'out_of_memory'} if table else {}),
      'endless_delta.mid': 'timeout'}
  sequences = testing_lib.read_notesequences([output])
  assert sorted(s.filename for s in sequences.values()) == [
      'good.mid', *([] if table else ['huge_delta_fine_division.mid']),
      'tracks_3000.mid']
  # Files that failed are not counted as read by note-seq's reader.
  assert summary.midi_reader == midi_reader
  assert summary.read_by_note_seq == {}
  (tracks,) = [s for s in sequences.values() if s.filename == 'tracks_3000.mid']
  assert len(tracks.notes) == 3000
