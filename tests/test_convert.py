"""musicrnn_convert: folder of music files -> NoteSequence TFRecords, on Beam."""

import glob
import json
import os

import note_seq
import pytest

import midi_mutations
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import fast_midi
import testing_lib

BROKEN = testing_lib.CONVERT_BROKEN
GOOD_MIDI = testing_lib.CONVERT_GOOD_MIDI
make_input_dir = testing_lib.make_convert_input_dir


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
  """One conversion of the fixture folder, shared by the tests below (made
  once in a test run, whichever worker runs them)."""

  def make(folder):
    root = make_input_dir(os.path.join(folder, 'input'))
    os.mkdir(os.path.join(folder, 'output'))
    output = os.path.join(folder, 'output', 'notesequences.tfrecord')
    return root, output, convert.convert_directory(root, output, num_shards=2)

  return testing_lib.made_once(tmp_path_factory, 'test_convert', make)[1]


def _read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def test_summary_adds_up_and_is_written_last(converted):
  _, output, summary = converted
  assert summary.files_seen == 4 + 2 + 1 + len(BROKEN) + 1
  assert summary.converted == 7
  assert summary.duplicates == 1
  assert summary.failed == len(BROKEN)
  assert summary.adds_up()
  assert summary.ignored_files == 1
  assert summary.notesequences == 4 + 2 + 2      # MIDI, MusicXML, 2 ABC tunes
  assert summary.failed_tunes == 1
  assert summary.failed_by_reason == {
      'absurd_tempo': 1, 'empty_file': 1, 'midi_parse_error': 3,
      'musicxml_parse_error': 1, 'no_notes': 1, 'unsupported_midi_type': 1}
  with open(output + '.summary.json') as f:
    assert json.load(f)['converted'] == 7
  line = summary.line()
  assert 'files seen 16 = converted 7 + duplicates 1 + failed 8' in line
  # No staging folder is left behind.
  assert sorted(os.listdir(os.path.dirname(output))) == sorted(
      os.path.basename(p) for p in summary.output_files)


def test_notesequences_match_note_seq_reading(converted):
  root, output, summary = converted
  sequences = testing_lib.read_notesequences(summary.output_files[:2])
  assert len(sequences) == summary.notesequences
  by_filename = {}
  for sequence in sequences.values():
    by_filename.setdefault(sequence.filename, []).append(sequence)
    assert sequence.collection_name == os.path.basename(root)
  for name in GOOD_MIDI:
    (sequence,) = by_filename[f'chopin/{name}']
    # note-seq's NoteSequence, its notes in the readers' order.
    reference = fast_midi.canonical_note_order(note_seq.midi_file_to_note_sequence(
        testing_lib.testdata('midi', name)))
    assert testing_lib.without_identity(sequence) == reference
  (xml,) = by_filename['scores/two_bars.musicxml']
  reference = note_seq.musicxml_file_to_sequence_proto(
      testing_lib.testdata('musicxml', 'two_bars.musicxml'))
  assert testing_lib.without_identity(xml) == reference
  assert len(by_filename['scores/TWO_BARS.MXL'][0].notes) == 7
  assert sorted(s.id.rsplit('#', 1)[1] for s in by_filename['folk/tunebook.abc']) == ['1', '2']


def test_dead_letter_lists_every_failure_with_reason(converted):
  _, output, _ = converted
  entries = _read_jsonl(output + '.deadletter.jsonl')
  files = {e['filename']: e for e in entries if not e.get('tune_failure')}
  assert {k: v['reason'] for k, v in files.items()} == {
      f'broken/{name}': reason for name, reason in BROKEN.items()}
  for entry in files.values():
    assert os.path.isabs(entry['path']) and entry['message']
    assert entry['exception_type']
  assert files['broken/test-not-a-midi-file.mid']['exception_type'] == (
      'MIDIConversionError')
  (tune,) = [e for e in entries if e.get('tune_failure')]
  assert tune['filename'] == 'folk/tunebook.abc'
  assert tune['exception_type'] == 'MultiVoiceError'


def test_duplicates_are_converted_once(converted):
  _, output, _ = converted
  (entry,) = _read_jsonl(output + '.duplicates.jsonl')
  assert entry['path'].endswith('copies/Prelude7.MID')
  assert entry['duplicate_of'].endswith('chopin/chpn-p7.mid')
  with open(testing_lib.testdata('midi', 'chpn-p7.mid'), 'rb') as f:
    assert entry['id'] == convert.readers.content_hash(f.read())


def test_existing_output_is_refused_then_overwritten(converted, tmp_path):
  root, _, _ = converted
  output = str(tmp_path / 'ns.tfrecord')
  first = convert.convert_directory(root, output)
  with pytest.raises(UsageError, match='already exists'):
    convert.convert_directory(root, output)
  second = convert.convert_directory(root, output, overwrite=True)
  assert second.output_files == first.output_files == [
      output, output + '.deadletter.jsonl', output + '.duplicates.jsonl',
      output + '.summary.json']
  assert (testing_lib.read_notesequences([output]).keys()
          == testing_lib.read_notesequences(
              [p for p in converted[2].output_files[:2]]).keys())


def test_multi_processing_two_workers_gives_the_same_sequences(converted, tmp_path):
  root, _, summary = converted
  output = str(tmp_path / 'mp.tfrecord')
  options = beam_utils.make_pipeline_options(
      ['--direct_running_mode=multi_processing', '--direct_num_workers=2'])
  mp = convert.convert_directory(root, output, num_shards=2,
                                 pipeline_options=options)
  assert mp.adds_up()
  assert (mp.converted, mp.duplicates, mp.failed) == (
      summary.converted, summary.duplicates, summary.failed)
  assert (testing_lib.read_notesequences(mp.output_files[:2])
          == testing_lib.read_notesequences(summary.output_files[:2]))


def test_missing_or_empty_input_is_a_usage_error(tmp_path):
  with pytest.raises(UsageError, match='not a directory'):
    convert.convert_directory(str(tmp_path / 'nope'), str(tmp_path / 'o'))
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'notes.txt').write_text('x')
  with pytest.raises(UsageError, match='no music files'):
    convert.convert_directory(str(tmp_path / 'empty'), str(tmp_path / 'o'))


def _cli(*args):
  return testing_lib.run_program('musicrnn.convert', *args)


def test_cli_converts_and_prints_the_summary(converted, tmp_path):
  root, _, _ = converted
  output = str(tmp_path / 'cli.tfrecord')
  result = _cli(f'--input_dir={root}', f'--output_file={output}',
                '--num_shards=3', '--collection_name=mine')
  assert result.returncode == 0, result.stderr
  # One summary line, musicrnn's log line.
  assert (result.stdout + result.stderr).count(
      'files seen 16 = converted 7 + duplicates 1 + failed 8') == 1
  shards = sorted(glob.glob(output + '-*-of-00003'))
  assert len(shards) == 3
  sequences = testing_lib.read_notesequences(shards)
  assert {s.collection_name for s in sequences.values()} == {'mine'}


@pytest.mark.parametrize('args, message', [
    ([], '--input_dir is required'),
    (['--input_dir=/nonexistent', '--output_file=/tmp/x'], 'is not a directory'),
    (['--input_dir=.', '--output_file=/tmp/x', '--num_shard=2'],
     'unknown flag --num_shard (did you mean --num_shards?)'),
    (['--input_dir=.', '--output_file=/tmp/x', '--num_shards=0'],
     '--num_shards=0'),
    (['--input_dir=.', '--output_file=/tmp/x', '--max_seconds_per_file=-1'],
     '--max_seconds_per_file=-1'),
    (['--input_dir=.', '--output_file=/tmp/x', '--max_memory_per_file_mb=-5'],
     '--max_memory_per_file_mb=-5'),
])
def test_cli_mistakes_give_one_clear_line(args, message):
  result = _cli(*args)
  assert result.returncode == 2
  errors = [l for l in result.stderr.splitlines() if 'error:' in l]
  assert len(errors) == 1 and message in errors[0], result.stderr
  assert 'Traceback' not in result.stderr


def test_cli_limit_flags_reach_the_reader(tmp_path):
  help_text = _cli('--help').stdout
  assert '--max_seconds_per_file' in help_text
  assert '--max_memory_per_file_mb' in help_text
  root = tmp_path / 'in'
  root.mkdir()
  testing_lib.copy_into(testing_lib.testdata('midi', 'chpn-p7.mid'), str(root))
  # A delta time of a million 0xFF bytes: mido would need hours.
  (root / 'endless.mid').write_bytes(midi_mutations.midi_file(
      [b'\xff' * 1_000_000 + b'\x00\x90\x3c\x50']))
  result = _cli(f'--input_dir={root}', f'--output_file={tmp_path / "ns.tfrecord"}',
                '--max_seconds_per_file=2', '--max_memory_per_file_mb=256')
  assert result.returncode == 0, result.stderr
  assert 'converted 1 + duplicates 0 + failed 1 (timeout 1)' in result.stderr


@testing_lib.requires_shared_data
def test_real_corpus_with_edge_cases(tmp_path):
  """piano-midi.de plus the deliberately odd MIDI of the edge-case corpus."""
  root = tmp_path / 'corpus'
  root.mkdir()
  os.symlink(os.path.join(testing_lib.SHARED_DATA, 'piano_midi_de', 'chopin'),
             root / 'chopin')
  os.symlink(os.path.join(testing_lib.SHARED_DATA, 'edge_cases'),
             root / 'edge_cases')
  summary = convert.convert_directory(str(root), str(tmp_path / 'ns.tfrecord'))
  assert summary.adds_up()
  assert summary.converted >= 40
  assert summary.failed >= 10
  failed = _read_jsonl(str(tmp_path / 'ns.tfrecord.deadletter.jsonl'))
  assert len(failed) == summary.failed
  assert all(e['filename'].startswith('edge_cases/') for e in failed)
