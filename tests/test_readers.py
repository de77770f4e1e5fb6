"""musicrnn.pipelines.readers: parsing and sanity checks of single files."""

import hashlib
import zipfile

import note_seq
import pytest

from musicrnn.pipelines import fast_midi
from musicrnn.pipelines import readers
import testing_lib


def _read(path, limits=readers.ReadLimits()):
  with open(path, 'rb') as f:
    return readers.read_music_bytes(f.read(), path, limits)


@pytest.mark.parametrize('midi_reader', readers.MIDI_READERS)
def test_midi_matches_note_seq_and_id_is_content_hash(midi_reader):
  path = testing_lib.testdata('midi', 'chpn-p7.mid')
  (sequence,), failures = _read(path, readers.ReadLimits(midi_reader=midi_reader))
  assert not failures
  with open(path, 'rb') as f:
    data = f.read()
  assert sequence.id == hashlib.sha256(data).hexdigest()
  # note-seq's NoteSequence, its notes in the readers' order.
  expected = fast_midi.canonical_note_order(note_seq.midi_file_to_note_sequence(path))
  assert testing_lib.without_identity(sequence) == expected


def test_kar_is_read_as_midi():
  (sequence,), _ = _read(testing_lib.testdata('midi', 'karaoke.kar'))
  assert len(sequence.notes) == 29


@pytest.mark.parametrize('name', ['two_bars.musicxml', 'two_bars.mxl'])
def test_musicxml_plain_and_compressed(name):
  (sequence,), _ = _read(testing_lib.testdata('musicxml', name))
  assert [n.pitch for n in sequence.notes] == [60, 64, 67, 72, 67, 60, 64]
  assert sequence.total_time == pytest.approx(4.0)
  assert (sequence.source_info.encoding_type
          == note_seq.NoteSequence.SourceInfo.MUSIC_XML)


def test_abc_gives_one_sequence_per_tune_and_lists_failed_tunes():
  path = testing_lib.testdata('abc', 'tunebook.abc')
  sequences, failures = _read(path)
  with open(path, 'rb') as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  assert [s.id for s in sequences] == [f'{digest}#1', f'{digest}#2']
  assert [len(s.notes) for s in sequences] == [9, 4]
  assert len(failures) == 1
  assert failures[0].reason == readers.REASON_ABC_PARSE_ERROR
  assert failures[0].exception_type == 'MultiVoiceError'


@pytest.mark.parametrize('name, reason, exception_type', [
    ('test-empty-file.mid', 'empty_file', 'ConversionError'),
    ('test-empty.mid', 'no_notes', 'ConversionError'),
    ('test-not-a-midi-file.mid', 'midi_parse_error', 'MIDIConversionError'),
    ('test-corrupt-file-missing-byte.mid', 'midi_parse_error',
     'MIDIConversionError'),
    ('test-non-midi-track.mid', 'midi_parse_error', 'MIDIConversionError'),
    ('test-2-tracks-type-2.mid', 'unsupported_midi_type', 'ConversionError'),
    ('broken.mxl', 'musicxml_parse_error', 'MusicXMLConversionError'),
])
def test_broken_files_fail_with_their_reason(name, reason, exception_type):
  with pytest.raises(readers.ConversionError) as info:
    _read(testing_lib.testdata('broken', name))
  assert info.value.reason == reason
  assert info.value.exception_type == exception_type
  assert str(info.value)


def test_absurd_tempo_too_long_and_too_large(tmp_path):
  fast = testing_lib.write_midi(
      str(tmp_path / 'fast.mid'), testing_lib.make_sequence([60, 62], qpm=5000))
  with pytest.raises(readers.ConversionError) as info:
    _read(fast)
  assert info.value.reason == readers.REASON_ABSURD_TEMPO
  assert '5000 qpm' in str(info.value)

  long = testing_lib.write_midi(
      str(tmp_path / 'long.mid'),
      testing_lib.make_sequence([60, 62], seconds_per_note=50))
  with pytest.raises(readers.ConversionError) as info:
    _read(long, readers.ReadLimits(max_duration_seconds=60))
  assert info.value.reason == readers.REASON_TOO_LONG

  with pytest.raises(readers.ConversionError) as info:
    _read(long, readers.ReadLimits(max_file_bytes=10))
  assert info.value.reason == readers.REASON_TOO_LARGE


def test_unexpected_parser_exception_is_a_conversion_error(tmp_path):
  # A zip that holds a container naming a score that is not XML: note-seq's
  # parser lets the ElementTree error through; we report it, we don't crash.
  path = tmp_path / 'bad.mxl'
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('META-INF/container.xml',
               '<container><rootfiles><rootfile full-path="s.xml"/>'
               '</rootfiles></container>')
    z.writestr('s.xml', 'this is not xml <')
  with pytest.raises(readers.ConversionError) as info:
    _read(str(path))
  assert info.value.reason == readers.REASON_MUSICXML_PARSE_ERROR


def test_music_format_is_case_insensitive():
  assert readers.music_format('a/B.MID') == 'midi'
  assert readers.music_format('x.MusicXML') == 'musicxml'
  assert readers.music_format('t.abc') == 'abc'
  assert readers.music_format('notes.txt') is None
