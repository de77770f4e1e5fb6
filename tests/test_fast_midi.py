"""The symusic MIDI reader (musicrnn.pipelines.fast_midi) gives note-seq's
NoteSequences, field for field, or hands the file to note-seq's reader and
says why; musicrnn_convert counts those files."""

import collections
import glob
import os
import warnings

import note_seq
import pytest

import midi_mutations as mm
from musicrnn.pipelines import convert
from musicrnn.pipelines import fast_midi
from musicrnn.pipelines import readers
import testing_lib

IN_PROCESS = dict(max_seconds_per_file=0, max_memory_per_file_mb=0)
FIXTURES = sorted(
    glob.glob(os.path.join(testing_lib.TESTDATA, '**', '*.mid'), recursive=True)
    + glob.glob(os.path.join(testing_lib.REPO_ROOT, 'musicrnn',
                             'quickstart_corpus', '*.mid')))


def _note_seq(data):
  """note-seq's own reading, notes in the readers' order."""
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return fast_midi.canonical_note_order(note_seq.midi_to_note_sequence(data))


def _compare(paths):
  """{outcome: [paths]}, by fast_midi.compare_with_note_seq."""
  outcomes = collections.defaultdict(list)
  for path in paths:
    with open(path, 'rb') as f:
      outcomes[fast_midi.compare_with_note_seq(f.read())].append(path)
  return outcomes


def test_every_fixture_reads_as_note_seq_or_falls_back():
  outcomes = _compare(FIXTURES)
  assert not outcomes['different'], outcomes['different']
  assert not outcomes['fast_reads_what_note_seq_refuses']
  readable = len(FIXTURES) - len(outcomes['both_fail'])
  assert len(outcomes['equal']) == readable, dict(outcomes)
  # Chopin's prelude 13 repeats notes on one pitch before releasing them:
  # pretty_midi closes them together, at a tick where a new note starts too
  # (the raw pass reads that track).
  assert any(p.endswith('chpn-p13.mid') for p in outcomes['equal'])


def test_overlapping_notes_of_one_pitch_close_together():
  # Two notes of one pitch on at 0 and 100, off at 200 and 300: pretty_midi
  # ends both at 200 (the note-off at 300 finds none open); symusic pairs
  # them one by one. The fast reader gives pretty_midi's notes.
  track = (b'\x00\x90\x3c\x40' b'\x64\x90\x3c\x50' b'\x64\x80\x3c\x00'
           b'\x64\x80\x3c\x00' b'\x00\x90\x40\x40' b'\x60\x80\x40\x00')
  data = mm.midi_file([track])
  got = fast_midi.read_midi(data)
  assert got == _note_seq(data)
  assert sorted((n.pitch, n.velocity, round(n.start_time, 6), round(n.end_time, 6))
                for n in got.notes) == [
                    (60, 64, 0.0, 0.208333), (60, 80, 0.104167, 0.208333),
                    (64, 64, 0.3125, 0.4125)]


def test_a_note_off_on_its_own_tick_drops_the_note():
  # On and off of pitch 62 at tick 50 (pretty_midi forgets it), then a note.
  track = (b'\x32\x90\x3e\x40' b'\x00\x80\x3e\x00' b'\x00\x90\x3c\x40'
           b'\x60\x80\x3c\x00')
  data = mm.midi_file([track])
  got = fast_midi.read_midi(data)
  assert got == _note_seq(data)
  assert [n.pitch for n in got.notes] == [60]


def _on(delta, pitch, velocity=64, channel=0):
  return mm.vlq(delta) + bytes([0x90 | channel, pitch, velocity])


def _off(delta, pitch, channel=0):
  return mm.vlq(delta) + bytes([0x80 | channel, pitch, 0])


# Tracks symusic's parse cannot give as pretty_midi reads them, and what
# note-seq makes of each: (start tick, end tick, pitch, velocity, program).
_RAW_CASES = {
    # Two notes of 60 open; the note-off at 100 closes both; at 200 a new
    # note and a note-off at one tick: the note-off finds only the new
    # note, begun at its own tick, and pretty_midi forgets it.
    'on_then_off_at_one_tick': (
        _on(0, 60) + _on(50, 60, 70) + _off(50, 60) + _on(100, 60, 90)
        + _off(0, 60) + _off(100, 60),
        [(0, 100, 60, 64, 0), (50, 100, 60, 70, 0)]),
    # The same events with the note-off first at 200: the new note lives.
    'off_then_on_at_one_tick': (
        _on(0, 60) + _on(50, 60, 70) + _off(50, 60) + _off(100, 60)
        + _on(0, 60, 90) + _off(100, 60),
        [(0, 100, 60, 64, 0), (50, 100, 60, 70, 0), (200, 300, 60, 90, 0)]),
    # A note never released (dropped), and a later note-off that closes
    # the next note of its pitch only (symusic pairs it with the first).
    'unclosed': (_on(0, 62) + _on(0, 64) + _off(100, 64) + _on(50, 64, 30)
                 + _off(50, 64),
                 [(0, 100, 64, 64, 0), (150, 200, 64, 30, 0)]),
    # Two note-ons and a note-off of 60 at tick 0 (a drum kit's double hit,
    # as in a Groove file): the note-off finds only notes of its own tick
    # and pretty_midi forgets both; symusic pairs the second with the
    # note-off at 100.
    'two_ons_and_an_off_at_one_tick': (
        _on(0, 60) + _on(0, 60) + _off(0, 60) + _on(0, 62) + _off(100, 60)
        + _off(0, 62), [(0, 100, 62, 64, 0)]),
    # A program change while 60 sounds: filed under the program at its
    # note-off.
    'program_change': (b'\x00\xc0\x05' + _on(0, 60) + b'\x32\xc0\x28'
                       + _off(50, 60), [(0, 100, 60, 64, 40)]),
}


@pytest.mark.parametrize('case', sorted(_RAW_CASES))
def test_the_raw_pass_reads_what_symusic_loses(case):
  track, expected = _RAW_CASES[case]
  data = mm.midi_file([track], division=100)
  got = fast_midi.read_midi(data)
  assert got == _note_seq(data)
  assert [(round(n.start_time * 200), round(n.end_time * 200), n.pitch,
           n.velocity, n.program) for n in got.notes] == expected


def test_the_raw_pass_keeps_tempos_controls_and_names_as_pretty_midi():
  # Two tempos at one tick (the file's order: the later wins), controls
  # before any note (a straggler whose list the first instrument of the
  # channel takes over) and between two instruments of one track, and a
  # Latin-1 track name.
  track = (b'\x00\xff\x03\x05Fl\xfbte' + mm.tempo_event(0, 500_000)
           + mm.tempo_event(100, 400_000) + mm.tempo_event(0, 600_000)
           + b'\x00\xb0\x07\x64' + _on(0, 60) + _off(50, 60)
           + b'\x00\xc0\x28' + b'\x00\xb0\x0a\x20' + _on(0, 62) + _off(50, 62)
           + b'\x00\xe0\x00\x50')
  data = mm.midi_file([track], division=100)
  got = fast_midi.read_midi(data)
  assert got == _note_seq(data)
  assert [t.qpm for t in got.tempos] == pytest.approx([120, 150, 100])
  assert [(i.name, i.instrument) for i in got.instrument_infos] == [
      ('Fl\u00fbte', 0), ('Fl\u00fbte', 1)]
  # Both instruments of channel 0 took over the straggler's very lists: each
  # has every control and the bend.
  assert [(c.control_number, c.instrument, c.program)
          for c in got.control_changes] == [(7, 0, 0), (10, 0, 0), (7, 1, 40),
                                            (10, 1, 40)]
  assert [(b.bend, b.instrument) for b in got.pitch_bends] == [(2048, 0),
                                                               (2048, 1)]


# Channel 0 plays pitch 60 from tick 0 to 960 and pitch 64 from 480 to 960;
# an event at tick 480, before pitch 64's note-on, changes a program.
_ON_60 = b'\x00\xc0\x00' b'\x00\x90\x3c\x50'
_OFFS = b'\x00\x90\x40\x50' b'\x83\x60\x80\x3c\x00' b'\x00\x80\x40\x00'


@pytest.mark.parametrize('change, program_of_60', [
    # pretty_midi files a note under the program in force at its note-off,
    # symusic under the one at its note-on: pitch 60 gets program 40 from
    # note-seq, 0 from symusic. The raw pass reads the track.
    (b'\x83\x60\xc0\x28', 40),
    # The same change in running status after a first one on channel 0.
    (b'\x83\x60\xc0\x00\x00\x28', 40),
    # A change on another channel, or to the program in force: no difference.
    (b'\x83\x60\xc1\x28', 0),
    (b'\x83\x60\xc0\x00', 0),
    # A meta event (a marker) whose length byte is C0: the walk skips it.
    (b'\x83\x60\xff\x06\x01\xc0', 0),
])
def test_a_program_change_while_a_note_sounds_reads_as_note_seq(
    change, program_of_60):
  data = mm.midi_file([_ON_60 + change + _OFFS])
  got = fast_midi.read_midi(data)
  assert got == _note_seq(data)
  # Pitch 64 starts after the change: its program either way.
  assert [(n.pitch, n.program) for n in got.notes] == [
      (60, program_of_60), (64, program_of_60)]


def test_a_program_change_between_notes_is_read_fast():
  track = (mm.note_track([60, 62], channel=0) + b'\x00\xc0\x28'
           + mm.note_track([64], channel=0))
  data = mm.midi_file([track])
  assert [(n.pitch, n.program) for n in fast_midi.read_midi(data).notes] == [
      (60, 0), (62, 0), (64, 40)]
  assert fast_midi.compare_with_note_seq(data) == fast_midi.EQUAL


@pytest.mark.parametrize('midi_reader', readers.MIDI_READERS)
def test_both_readers_give_equal_sequences(midi_reader):
  limits = readers.ReadLimits(midi_reader=midi_reader, **IN_PROCESS)
  path = testing_lib.testdata('pop', 'mr_blue_sky.mid')
  with open(path, 'rb') as f:
    data = f.read()
  counts = collections.Counter()
  (sequence,), _ = readers.read_music_bytes(data, path, limits, counts=counts)
  assert testing_lib.without_identity(sequence) == _note_seq(data)
  # This one overlaps notes of one pitch at a tick where another starts:
  # the raw pass reads that track, no file goes to note-seq.
  assert counts == {}


# Notes of one pitch whose note-on and note-off on one tick need the file's
# order (the raw pass reads the track), and a MIDI clock message, which the
# raw pass leaves to mido.
_OVERLAP_AND_CLOCK = (_RAW_CASES['on_then_off_at_one_tick'][0][:-4] + b'\x00\xf8'
                      + _RAW_CASES['on_then_off_at_one_tick'][0][-4:])


def test_convert_counts_the_files_read_by_note_seq(tmp_path):
  folder = tmp_path / 'midi'
  for name in ('bach_846.mid', 'chpn-p13.mid'):
    testing_lib.copy_into(os.path.join(testing_lib.REPO_ROOT, 'musicrnn',
                                       'quickstart_corpus', name), folder)
  (folder / 'clock.mid').write_bytes(mm.midi_file([_OVERLAP_AND_CLOCK]))
  summary = convert.convert_directory(str(folder), str(tmp_path / 'ns.tfrecord'))
  assert summary.converted == 3 and summary.midi_reader == 'symusic'
  assert summary.read_by_note_seq == {'system_message': 1}
  assert '1 MIDI files read by note-seq (system_message 1)' in summary.line()


def test_unknown_reader_names_the_choices():
  with pytest.raises(ValueError, match='symusic, note_seq'):
    readers.ReadLimits(midi_reader='mido')


# MUSICRNN_EVERY_MIDI_FILE=1 reads every file of every corpus (about 4
# minutes, most of it note-seq's); the default run every 60th.
EVERY_FILE = os.environ.get('MUSICRNN_EVERY_MIDI_FILE') == '1'


@testing_lib.requires_shared_data
def test_shared_corpora_read_as_note_seq_without_falling_back():
  """Every 60th MIDI file of each development corpus (every file with
  MUSICRNN_EVERY_MIDI_FILE=1; benchmarks/convert_benchmark.py
  --compare_readers reads them all too), and every edge case: each equals
  note-seq's reading; none of the corpora's goes to note-seq."""
  corpora = {}
  for corpus in sorted(os.listdir(testing_lib.SHARED_DATA)):
    files = sorted(p for p in glob.glob(os.path.join(
        testing_lib.SHARED_DATA, corpus, '**', '*'), recursive=True)
                   if p.lower().endswith(readers.MIDI_EXTENSIONS))
    if files:
      corpora[corpus] = _compare(
          files if corpus == 'edge_cases' or EVERY_FILE else files[::60])
  for corpus, outcomes in corpora.items():
    assert not outcomes['different'], outcomes['different'][:10]
    assert not outcomes['fast_reads_what_note_seq_refuses'], (
        outcomes['fast_reads_what_note_seq_refuses'][:10])
    if corpus != 'edge_cases':   # odd on purpose: some refused by both
      assert {k for k, v in outcomes.items() if v} == {'equal'}, (
          corpus, {k: len(v) for k, v in outcomes.items()})
  assert len(corpora['edge_cases']['equal']) >= 60
