"""Musical metrics: known values on hand-built NoteSequences, zero distance
of data against itself, and musicrnn_evaluate --samples_dir."""

import json
import os

import note_seq
import numpy as np
import pytest
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from musicrnn.errors import UsageError
from musicrnn.metrics import music
from musicrnn.metrics import samples
from musicrnn.pipelines import convert
from musicrnn.runs import evaluate as evaluate_lib
import testing_lib


def _notes(*notes, qpm=120.0):
  """A NoteSequence of (pitch, start, end[, velocity]) tuples."""
  sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(time=0.0, qpm=qpm)
  for note in notes:
    pitch, start, end = note[:3]
    velocity = note[3] if len(note) > 3 else 80
    sequence.notes.add(pitch=pitch, start_time=start, end_time=end,
                       velocity=velocity)
  sequence.total_time = max(n[2] for n in notes)
  return sequence


C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72)


def test_scale_statistics():
  scale = testing_lib.make_sequence(C_MAJOR, seconds_per_note=0.5, velocity=80)
  stats = music.sequence_stats(scale)
  assert stats['pitch_class_histogram'].tolist() == [2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]
  assert stats['pitch_range'] == 12
  assert stats['pitches_used'] == 8
  assert stats['polyphony'] == pytest.approx(1.0)
  assert stats['notes_per_second'] == pytest.approx(2.0)
  assert stats['velocity_histogram'].tolist() == [0, 0, 0, 0, 0, 8, 0, 0]
  assert stats['empty_beat_rate'] == 0.0      # eight 0.5 s beats, all sounding
  assert stats['scale_consistency'] == 1.0
  ioi = stats['ioi_histogram']
  assert ioi.sum() == 7
  (bin_index,) = np.flatnonzero(ioi)
  assert music.IOI_BIN_EDGES[bin_index] <= 0.5 < music.IOI_BIN_EDGES[bin_index + 1]


def test_chord_silence_and_chromatic_statistics():
  # C-E-G for 1 s, 1 s of silence, then one note for 1 s; 120 qpm: six beats.
  sequence = _notes((60, 0, 1), (64, 0, 1), (67, 0, 1), (72, 2, 3, 120))
  stats = music.sequence_stats(sequence)
  assert stats['polyphony'] == pytest.approx((3 * 1 + 1 * 1) / 2)
  assert stats['empty_beat_rate'] == pytest.approx(2 / 6)
  assert stats['notes_per_second'] == pytest.approx(4 / 3)
  assert stats['velocity_histogram'].tolist() == [0, 0, 0, 0, 0, 3, 0, 1]
  assert stats['ioi_histogram'].sum() == 1    # onsets at 0 and 2 s
  # At 60 qpm the beats are 1 s: three, one of them silent.
  slow = _notes((60, 0, 1), (72, 2, 3), qpm=60.0)
  assert music.sequence_stats(slow)['empty_beat_rate'] == pytest.approx(1 / 3)
  chromatic = testing_lib.make_sequence(range(60, 72))
  assert music.sequence_stats(chromatic)['scale_consistency'] == pytest.approx(7 / 12)
  assert music.sequence_stats(music_pb2.NoteSequence())['notes'] == 0


def test_note_durations_and_long_notes():
  # Durations 5 ms, 0.5 s, 4.99 s, 4.999 s (the cap less 1 ms: a capped note
  # read back a tick short), 5 s (the cap) and 7 s (real music the cap would
  # cut).
  sequence = _notes((60, 0, 0.005), (62, 0, 0.5), (64, 0, 4.99),
                    (65, 0, 4.999), (67, 1, 6.0), (69, 1, 8.0))
  stats = music.sequence_stats(sequence)
  edges = music.DURATION_BIN_EDGES
  assert edges[0] == 0 and edges[1] == 0.01 and edges[-1] == np.inf
  assert music.LONG_NOTE_SECONDS == edges[-2] == 4.999
  assert len(edges) == 18 and edges[10] < 0.5 < edges[11]
  expected = np.zeros(17, np.int64)
  expected[0] = 1                                    # 5 ms: [0, 10 ms)
  expected[10] = 1                                   # 0.5 s
  expected[15] = 1                                   # 4.99 s, below the cap
  expected[16] = 3                                   # 4.999 s, 5 s and 7 s
  assert stats['duration_histogram'].tolist() == expected.tolist()
  assert stats['long_note_share'] == pytest.approx(3 / 6)
  assert music.sequence_stats(_notes((60, 0, 1)))['long_note_share'] == 0.0
  assert music.sequence_stats(music_pb2.NoteSequence())['long_note_share'] == 0.0


def test_compare_reports_note_durations():
  # Generated: two files, one of capped notes (5 s), one half capped, half
  # of 0.5 s; the reference: notes of 0.5 s. Only the 0.5 s notes, 2 of the
  # 6 generated, share the reference's bin.
  capped = _notes((60, 0, 5), (64, 0, 5))
  half = _notes((60, 0, 0.5), (62, 0.5, 1), (64, 1, 6), (65, 1, 6))
  reference = [_notes((60, 0, 0.5), (62, 0.5, 1), (64, 1, 1.5))]
  report = music.compare([capped, half], reference)
  assert report['duration_histogram']['distance'] == pytest.approx(4 / 6)
  # The pooled histograms: the last bin is the share of all notes capped.
  assert report['duration_histogram']['generated'][-1] == pytest.approx(4 / 6)
  assert report['duration_histogram']['reference'][-1] == 0.0
  assert report['long_note_share'] == {
      'generated': {'mean': pytest.approx(0.75), 'std': pytest.approx(0.25)},
      'reference': {'mean': 0.0, 'std': 0.0}}
  assert music.compare([half], [half])['duration_histogram']['distance'] == 0.0


def test_ngram_overlap_counts_verbatim_windows():
  training = [testing_lib.make_sequence(range(60, 72))]
  generated = testing_lib.make_sequence(list(range(60, 68)) + [50, 51])
  codes = music.training_ngrams(training)
  assert len(codes) == 12 - 8 + 1
  # Three 8-note windows; only the first is in the training data.
  assert music.ngram_overlap([generated], codes) == pytest.approx(1 / 3)
  # Pitches, not intervals: an octave up is new material.
  transposed = testing_lib.make_sequence(range(72, 84))
  assert music.ngram_overlap([transposed], codes) == 0.0
  assert music.ngram_overlap(training, codes) == 1.0
  short = testing_lib.make_sequence([60, 62])
  assert np.isnan(music.ngram_overlap([short], codes))


def test_histogram_distance():
  assert music.histogram_distance([1, 1, 0], [2, 2, 0]) == 0.0
  assert music.histogram_distance([1, 0], [0, 1]) == 1.0
  assert music.histogram_distance([3, 1], [1, 1]) == pytest.approx(0.25)


def _fixture_sequences():
  return [note_seq.midi_file_to_note_sequence(testing_lib.testdata('midi', name))
          for name in sorted(os.listdir(testing_lib.testdata('midi')))]


def test_data_against_itself_has_zero_distances():
  real = _fixture_sequences()
  report = music.compare(real, real, training_sequences=real)
  for name in music.HISTOGRAMS:
    assert report[name]['distance'] == 0.0
  for name in music.SCALARS:
    assert report[name]['generated'] == report[name]['reference']
  assert report['ngram_overlap_8']['generated'] == 1.0
  other = music.compare(real[:1], real[1:])
  assert other['pitch_class_histogram']['distance'] > 0


def test_evaluate_samples_cli(tmp_path):
  """Eval data written as the samples: zero distances, JSON and PNG."""
  notesequences = str(tmp_path / 'ns.tfrecord')
  convert.convert_directory(testing_lib.testdata('midi'), notesequences)
  real = samples.read_notesequences(notesequences)
  eval_sequences, train_sequences = samples.split_real_data(real, 0.5)
  assert eval_sequences and train_sequences
  samples_dir = tmp_path / 'samples'
  samples_dir.mkdir()
  for i, sequence in enumerate(eval_sequences):
    note_seq.sequence_proto_to_midi_file(
        sequences_lib.apply_sustain_control_changes(sequence),
        str(samples_dir / f'{i}.mid'))
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--samples_dir={samples_dir}',
      f'--notesequences={notesequences}', '--eval_ratio=0.5', '--chunk_seconds=0')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(samples_dir / 'musical_metrics.json') as f:
    report = json.load(f)
  assert report['sequences'] == {'generated': len(eval_sequences),
                                 'reference': len(eval_sequences)}
  assert 'duration_histogram' in music.HISTOGRAMS
  for name in music.HISTOGRAMS:
    assert report[name]['distance'] == pytest.approx(0.0, abs=1e-9)
  assert report['long_note_share']['generated'] == report['long_note_share'][
      'reference']
  assert 0.0 <= report['ngram_overlap_8']['generated'] < 1.0
  assert os.path.getsize(samples_dir / 'musical_metrics.png') > 10_000

  result = testing_lib.run_program('musicrnn.evaluate',
                                   f'--samples_dir={tmp_path}/none')
  assert result.returncode == 2 and 'is not a directory' in result.stderr


def test_samples_need_real_data(tmp_path):
  note_seq.sequence_proto_to_midi_file(testing_lib.make_sequence(C_MAJOR),
                                       str(tmp_path / 'a.mid'))
  with pytest.raises(UsageError, match='--run_dir.*--notesequences'):
    evaluate_lib.evaluate_samples(str(tmp_path))
