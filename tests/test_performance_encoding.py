"""The performance codec and its controls equal note-seq's, token for token.

Reference: note-seq 0.0.5, as Magenta's Performance RNN uses it
(`quantize_note_sequence_absolute`, `performance_lib.Performance`,
`PerformanceOneHotEncoding`, `Performance.to_sequence`, and the note density
and pitch histogram `PerformanceControlSignal`s with their encoders), on the
committed real MIDI (tests/testdata/midi and the quick-start corpus) and on
seeded random inputs that reach the corner cases real MIDI rarely does.
"""

import functools
import glob
import json
import os
import subprocess
import sys

from note_seq import performance_controls
from note_seq import performance_encoder_decoder
from note_seq import performance_lib
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import note_seq
import numpy as np
import pytest

from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import controls
from musicrnn.encodings import performance
import testing_lib

FIXTURES = sorted(
    glob.glob(testing_lib.testdata('midi', '*.mid'))
    + glob.glob(testing_lib.testdata('midi', '*.kar'))
    + glob.glob(os.path.join(testing_lib.REPO_ROOT, 'musicrnn',
                             'quickstart_corpus', '*.mid')))
FIXTURE_IDS = [os.path.basename(p) for p in FIXTURES]
BINS = (0, 32)
DENSITY_BINS = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]


def test_fixtures_found():
  assert len(FIXTURES) == 16


@functools.lru_cache(maxsize=None)
def read(path):
  return note_seq.midi_file_to_note_sequence(path)


def codec_for(bins, **kwargs):
  return performance.PerformanceCodec(
      performance.PerformanceSettings(num_velocity_bins=bins, **kwargs))


def one_hot_encoding(settings):
  return performance_encoder_decoder.PerformanceOneHotEncoding(
      settings.num_velocity_bins, settings.max_shift_steps, settings.min_pitch,
      settings.max_pitch)


def reference_performance(sequence, settings):
  quantized = sequences_lib.quantize_note_sequence_absolute(
      sequence, settings.steps_per_second)
  return performance_lib.Performance(
      quantized, num_velocity_bins=settings.num_velocity_bins,
      max_shift_steps=settings.max_shift_steps)


def reference_ids(sequence, settings):
  encoding = one_hot_encoding(settings)
  return np.array([encoding.encode_event(e)
                   for e in reference_performance(sequence, settings)],
                  np.int64)


def performance_of_ids(ids, settings):
  """A note-seq Performance holding the events of token ids."""
  encoding = one_hot_encoding(settings)
  perf = performance_lib.Performance(
      steps_per_second=settings.steps_per_second,
      num_velocity_bins=settings.num_velocity_bins,
      max_shift_steps=settings.max_shift_steps)
  for i in ids:
    perf.append(encoding.decode_event(int(i)))
  return perf


@functools.lru_cache(maxsize=None)
def fixture_reference(path, bins):
  """(ids, note-seq Performance) of a fixture, computed once."""
  settings = performance.PerformanceSettings(num_velocity_bins=bins)
  perf = reference_performance(read(path), settings)
  encoding = one_hot_encoding(settings)
  return np.array([encoding.encode_event(e) for e in perf], np.int64), perf


def note_tuples(sequence):
  return [(n.pitch, n.velocity, n.start_time, n.end_time, n.instrument,
           n.program, n.is_drum) for n in sequence.notes]


def assert_same_notes(expected, got):
  """Same notes in the same order: pitch, velocity, times within 1e-9."""
  assert len(expected.notes) == len(got.notes)
  for a, b in zip(note_tuples(expected), note_tuples(got)):
    assert a[:2] == b[:2] and a[4:] == b[4:]
    np.testing.assert_allclose(a[2:4], b[2:4], rtol=0, atol=1e-9)
  assert got.total_time == pytest.approx(expected.total_time, abs=1e-9)
  assert got.ticks_per_quarter == expected.ticks_per_quarter


# Vocabulary.


@pytest.mark.parametrize('bins,size', [(0, 356), (32, 388)])
def test_vocab_size(bins, size):
  codec = codec_for(bins)
  assert codec.vocab_size == size
  assert codec.vocab_size == one_hot_encoding(codec.settings).num_classes


@pytest.mark.parametrize('kwargs', [
    {'num_velocity_bins': 32}, {'num_velocity_bins': 0},
    {'num_velocity_bins': 7, 'max_shift_steps': 37}])
def test_modulo_input_vectors_equal_note_seq(kwargs):
  """Every id's modulo vector is note-seq's ModuloPerformanceEventSequence
  EncoderDecoder input of that id's event (Magenta's
  performance_with_dynamics_and_modulo_encoding)."""
  codec = performance.PerformanceCodec(performance.PerformanceSettings(**kwargs))
  s = codec.settings
  theirs = performance_encoder_decoder.ModuloPerformanceEventSequenceEncoderDecoder(
      num_velocity_bins=s.num_velocity_bins, max_shift_steps=s.max_shift_steps)
  one_hot = one_hot_encoding(s)
  expected = np.array([theirs.events_to_input([one_hot.decode_event(i)], 0)
                       for i in range(codec.vocab_size)])
  ours = codec.input_vectors('modulo')
  assert ours.dtype == np.float32 and ours.shape == (codec.vocab_size,
                                                     theirs.input_size)
  np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_input_vectors_refuse_what_they_do_not_cover():
  with pytest.raises(ValueError, match="no 'binary' input vectors; it has 'modulo'"):
    codec_for(32).input_vectors('binary')
  with pytest.raises(ValueError, match=r'covers pitches 0\.\.127.*21\.\.108'):
    performance.PerformanceCodec(performance.PerformanceSettings(
        min_pitch=21, max_pitch=108)).input_vectors('modulo')


@pytest.mark.parametrize('kwargs', [
    {'num_velocity_bins': 0}, {'num_velocity_bins': 32},
    {'num_velocity_bins': 7, 'min_pitch': 21, 'max_pitch': 108,
     'max_shift_steps': 37}])
def test_layout_is_note_seq_one_hot(kwargs):
  codec = performance.PerformanceCodec(performance.PerformanceSettings(**kwargs))
  encoding = one_hot_encoding(codec.settings)
  types, values = codec.events(np.arange(codec.vocab_size))
  expected = [encoding.decode_event(i) for i in range(codec.vocab_size)]
  assert types.tolist() == [e.event_type for e in expected]
  assert values.tolist() == [e.event_value for e in expected]
  s = codec.settings
  assert codec.note_on_id(s.min_pitch) == 0
  assert codec.note_off_id(s.max_pitch) == codec.time_shift_offset - 1
  assert codec.time_shift_id(s.max_shift_steps) == codec.velocity_offset - 1
  for name, (first, stop) in codec.id_ranges().items():
    assert set(types[first:stop]) == {getattr(performance, name)}
  if s.num_velocity_bins:
    assert codec.velocity_id(s.num_velocity_bins) == codec.vocab_size - 1
  with pytest.raises(ValueError):
    codec.events([codec.vocab_size])


# Encoding real MIDI.


@pytest.mark.parametrize('bins', BINS)
@pytest.mark.parametrize('path', FIXTURES, ids=FIXTURE_IDS)
def test_encode_equals_note_seq(path, bins):
  expected, _ = fixture_reference(path, bins)
  ids = codec_for(bins).encode(read(path))
  assert ids.dtype == np.int32
  assert len(ids) > 0
  np.testing.assert_array_equal(ids, expected)


@pytest.mark.parametrize('bins', BINS)
@pytest.mark.parametrize('path', FIXTURES, ids=FIXTURE_IDS)
def test_decode_equals_note_seq_to_sequence(path, bins):
  ids, perf = fixture_reference(path, bins)
  # A Performance made from a sequence remembers the sequence's program.
  decoded = codec_for(bins).decode(
      ids, program=perf.program if perf.program is not None else 0,
      is_drum=bool(perf.is_drum))
  assert_same_notes(perf.to_sequence(), decoded)


@pytest.mark.parametrize('bins', BINS)
@pytest.mark.parametrize('path', FIXTURES, ids=FIXTURE_IDS)
def test_round_trip(path, bins):
  codec = codec_for(bins)
  sequence = read(path)
  ids = codec.encode(sequence)
  decoded = codec.decode(ids)

  # Every onset (pitch, step, velocity of its bin) and every offset (pitch,
  # step) of the quantized input comes back.
  quantized = sequences_lib.quantize_note_sequence_absolute(sequence, 100)
  def binned(v):
    if not bins:
      return performance.DEFAULT_VELOCITY
    return int(performance.velocity_bin_to_velocity(
        performance.velocity_to_bin(v, bins), bins))
  expected_onsets = sorted((n.pitch, n.quantized_start_step, binned(n.velocity))
                           for n in quantized.notes)
  expected_offsets = sorted((n.pitch, n.quantized_end_step)
                            for n in quantized.notes)
  steps = [(n.pitch, round(n.start_time * 100), round(n.end_time * 100),
            n.velocity) for n in decoded.notes]
  assert sorted((p, s, v) for p, s, _, v in steps) == expected_onsets
  assert sorted((p, e) for p, _, e, _ in steps) == expected_offsets

  # Re-encoding gives the same notes, and is then a fixed point. (Not always
  # `ids` itself: note-seq orders notes by onset time in seconds, and notes
  # whose onsets share a step come back in pitch order; see the report.)
  again = codec.encode(decoded)
  assert sorted(note_tuples(codec.decode(again))) == sorted(
      note_tuples(decoded))
  np.testing.assert_array_equal(codec.encode(codec.decode(again)), again)
  # What note-seq itself gives for its own round trip.
  np.testing.assert_array_equal(again, reference_ids(decoded, codec.settings))


# Controls on real MIDI.


@pytest.mark.parametrize('bins', BINS)
@pytest.mark.parametrize('path', FIXTURES, ids=FIXTURE_IDS)
def test_controls_equal_note_seq(path, bins):
  ids, perf = fixture_reference(path, bins)
  codec = codec_for(bins)
  check_controls(ids, perf, codec, controls.NoteDensityControl(),
                 controls.PitchHistogramControl())


def check_controls(ids, perf, codec, density, histogram):
  density_signal = performance_controls.NoteDensityPerformanceControlSignal(
      density.settings.window_size_seconds,
      list(density.settings.density_bin_ranges))
  histogram_signal = (
      performance_controls.PitchHistogramPerformanceControlSignal(
          histogram.settings.window_size_seconds,
          histogram.settings.prior_count))
  n = len(ids)

  expected_density = np.array(density_signal.extract(perf), np.float64)
  one_hot = density_signal.encoder._one_hot_encoding  # pylint: disable=protected-access
  expected_classes = [one_hot.encode_event(d) for d in expected_density]
  density_list = expected_density.tolist()
  expected_density_inputs = np.array(
      [density_signal.encoder.events_to_input(density_list, i)
       for i in range(n)], np.float32).reshape(n, density.size)
  np.testing.assert_array_equal(density.values(ids, codec), expected_density)
  classes = density.classes(ids, codec)
  assert classes.dtype == np.int32
  np.testing.assert_array_equal(classes, expected_classes)
  np.testing.assert_array_equal(density.inputs(ids, codec),
                                expected_density_inputs)

  histogram_list = histogram_signal.extract(perf)
  expected_histogram = np.array(histogram_list, np.float64).reshape(n, 12)
  expected_inputs = np.array(
      [histogram_signal.encoder.events_to_input(histogram_list, i)
       for i in range(n)], np.float64).reshape(n, 12)
  np.testing.assert_allclose(histogram.values(ids, codec), expected_histogram,
                             rtol=0, atol=1e-9)
  inputs = histogram.inputs(ids, codec)
  assert inputs.dtype == np.float32 and inputs.shape == (n, 12)
  np.testing.assert_allclose(inputs, expected_inputs, rtol=0, atol=1e-6)


def test_controls_accept_codec_settings():
  ids, _ = fixture_reference(FIXTURES[0], 32)
  codec = codec_for(32)
  density = controls.NoteDensityControl()
  np.testing.assert_array_equal(density.classes(ids, codec.settings),
                                density.classes(ids, codec))


# Random inputs: the corner cases.


def random_sequence(rng):
  """Notes on coarse grids (ties), overlapping repeats, zero and negative
  lengths, times just below 0, several instruments."""
  sequence = music_pb2.NoteSequence()
  grid = float(rng.choice([0.001, 0.005, 0.01, 0.0123]))
  for _ in range(int(rng.integers(0, 60))):
    if rng.random() < 0.9:
      start = int(rng.integers(0, 400)) * grid
    else:
      start = float(rng.random() * 3)
    end = start + int(rng.integers(-1, 50)) * grid
    sequence.notes.add(pitch=int(rng.integers(58, 66)),
                       velocity=int(rng.integers(1, 128)), start_time=start,
                       end_time=end, instrument=int(rng.integers(0, 2)))
  return sequence


def test_encode_equals_note_seq_on_random_sequences():
  rng = np.random.default_rng(1)
  for trial in range(300):
    settings = performance.PerformanceSettings(
        num_velocity_bins=[0, 32, 5, 127][trial % 4],
        max_shift_steps=int(rng.integers(1, 120)),
        steps_per_second=int(rng.choice([100, 50, 7, 1000])))
    sequence = random_sequence(rng)
    np.testing.assert_array_equal(
        performance.PerformanceCodec(settings).encode(sequence),
        reference_ids(sequence, settings), err_msg=f'trial {trial}')


def random_ids(rng, settings):
  """Token soup: unmatched NOTE_OFFs, repeated NOTE_ONs, notes left on."""
  codec = performance.PerformanceCodec(settings)
  return rng.integers(0, codec.vocab_size, int(rng.integers(0, 300)))


def test_decode_and_controls_equal_note_seq_on_random_ids():
  rng = np.random.default_rng(0)
  for trial in range(150):
    settings = performance.PerformanceSettings(
        num_velocity_bins=[0, 32, 7][trial % 3], min_pitch=58, max_pitch=65,
        max_shift_steps=int(rng.integers(1, 120)),
        steps_per_second=int(rng.choice([100, 50, 7])))
    codec = performance.PerformanceCodec(settings)
    ids = random_ids(rng, settings)
    perf = performance_of_ids(ids, settings)
    velocity, max_note_duration = [(100, None), (64, 0.3)][trial % 2]
    assert_same_notes(
        perf.to_sequence(velocity=velocity,
                         max_note_duration=max_note_duration),
        codec.decode(ids, velocity=velocity,
                     max_note_duration=max_note_duration))
    window = float(rng.choice([0.5, 1.0, 3.0, 5.0]))
    check_controls(
        ids, perf, codec,
        controls.NoteDensityControl(
            controls.NoteDensitySettings(window_size_seconds=window)),
        controls.PitchHistogramControl(controls.PitchHistogramSettings(
            window_size_seconds=window, prior_count=[0.01, 0.0][trial % 2])))


# A small sequence with known tokens.


def test_hand_built_sequence():
  sequence = music_pb2.NoteSequence()
  sequence.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=0.5)
  sequence.notes.add(pitch=64, velocity=100, start_time=0.25, end_time=1.0)
  # 1.5 s of silence, then a zero-length note: lengthened to one step.
  sequence.notes.add(pitch=67, velocity=100, start_time=2.5, end_time=2.5)
  codec = codec_for(32)
  on, off = codec.note_on_id, codec.note_off_id
  shift, vel = codec.time_shift_id, codec.velocity_id
  # Bins of 4 velocities: 80 -> bin 20, 100 -> bin 25.
  expected = [vel(20), on(60), shift(25), vel(25), on(64), shift(25), off(60),
              shift(50), off(64), shift(100), shift(50), on(67), shift(1),
              off(67)]
  assert expected == [375, 60, 280, 380, 64, 280, 188, 305, 192, 355, 305, 67,
                      256, 195]
  ids = codec.encode(sequence)
  assert ids.tolist() == expected
  assert ids.tolist() == reference_ids(sequence, codec.settings).tolist()

  decoded = codec.decode(ids)
  assert [(n.pitch, n.velocity) for n in decoded.notes] == [
      (60, 77), (64, 97), (67, 97)]
  np.testing.assert_allclose(
      [(n.start_time, n.end_time) for n in decoded.notes],
      [(0.0, 0.5), (0.25, 1.0), (2.5, 2.51)], rtol=0, atol=1e-9)
  assert codec.encode(decoded).tolist() == expected

  without_velocity = codec_for(0)
  ids = without_velocity.encode(sequence)
  assert ids.tolist() == [60, 280, 64, 280, 188, 305, 192, 355, 305, 67, 256,
                          195]
  assert {n.velocity for n in without_velocity.decode(ids).notes} == {100}
  density = controls.NoteDensityControl().values(ids, without_velocity)
  # From 0 s: 3 onsets in the 2.51 s the performance lasts.
  assert density[0] == pytest.approx(3 / 2.51)


def test_long_gap_is_split_into_max_shifts():
  sequence = music_pb2.NoteSequence()
  sequence.notes.add(pitch=60, velocity=80, start_time=3.456, end_time=3.5)
  codec = codec_for(0)
  assert codec.encode(sequence).tolist() == [
      codec.time_shift_id(100)] * 3 + [codec.time_shift_id(46), 60,
                                       codec.time_shift_id(4), 188]


def test_empty_sequence():
  codec = codec_for(32)
  ids = codec.encode(music_pb2.NoteSequence())
  assert ids.dtype == np.int32 and ids.shape == (0,)
  assert not codec.decode(ids).notes
  assert controls.NoteDensityControl().classes(ids, codec).shape == (0,)
  assert controls.PitchHistogramControl().inputs(ids, codec).shape == (0, 12)


# What note-seq refuses, and what we refuse.


def one_note(start, end, pitch=60, velocity=80):
  sequence = music_pb2.NoteSequence()
  sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start,
                     end_time=end)
  return sequence


def test_time_just_below_zero_rounds_to_step_zero():
  # int(-0.01 * 100 + 0.5) == int(-0.5) == 0, as in note-seq.
  sequence = one_note(-0.01, 0.2)
  ids = codec_for(0).encode(sequence)
  assert ids.tolist() == reference_ids(sequence, codec_for(0).settings).tolist()
  assert ids[0] == 60


def test_negative_time_is_refused_like_note_seq():
  sequence = one_note(-0.02, 0.2)
  with pytest.raises(sequences_lib.NegativeTimeError):
    reference_ids(sequence, codec_for(0).settings)
  with pytest.raises(codec_lib.EncodingError) as error:
    codec_for(0).encode(sequence)
  assert error.value.reason == 'negative_time'


@pytest.mark.parametrize('sequence,reason', [
    (one_note(0.0, 0.2, pitch=20), 'pitch_out_of_range'),
    (one_note(0.0, 0.2, pitch=109), 'pitch_out_of_range'),
    (one_note(0.0, 0.2, velocity=0), 'velocity_out_of_range'),
    (one_note(0.0, float('nan')), 'invalid_time'),
])
def test_refused_sequences(sequence, reason):
  codec = codec_for(32, min_pitch=21, max_pitch=108)
  with pytest.raises(codec_lib.EncodingError) as error:
    codec.encode(sequence)
  assert error.value.reason == reason


def test_velocity_is_ignored_without_bins():
  assert codec_for(0).encode(one_note(0.0, 0.2, velocity=0)).tolist() == [
      60, 275, 188]


# Specs and settings.


@pytest.mark.parametrize('bins', BINS)
def test_spec_round_trip(bins):
  codec = codec_for(bins, min_pitch=21, max_pitch=108)
  spec = json.loads(json.dumps(codec.spec()))
  assert spec['name'] == 'performance'
  rebuilt = codec_lib.codec_from_spec(spec)
  assert isinstance(rebuilt, performance.PerformanceCodec)
  assert rebuilt.settings == codec.settings and rebuilt == codec
  assert rebuilt.vocab_size == codec.vocab_size
  with pytest.raises(ValueError):
    codec_lib.codec_from_spec({'name': 'performance',
                               'settings': {'velocity_bins': 32}})


def test_control_spec_round_trip():
  for control in (controls.NoteDensityControl(controls.NoteDensitySettings(
      window_size_seconds=2.0, density_bin_ranges=(1.0, 3.0))),
                  controls.PitchHistogramControl()):
    spec = json.loads(json.dumps(control.spec()))
    rebuilt = controls.control_from_spec(spec)
    assert type(rebuilt) is type(control)
    assert rebuilt.settings == control.settings


@pytest.mark.parametrize('kwargs', [
    {'steps_per_second': 0}, {'steps_per_second': 100.0},
    {'max_shift_steps': 0}, {'num_velocity_bins': 128},
    {'min_pitch': 60, 'max_pitch': 59}, {'max_pitch': 128}])
def test_bad_settings(kwargs):
  with pytest.raises(ValueError):
    performance.PerformanceSettings(**kwargs)


def test_bad_control_settings():
  with pytest.raises(ValueError):
    controls.NoteDensitySettings(density_bin_ranges=(2.0, 1.0))
  with pytest.raises(ValueError):
    controls.PitchHistogramSettings(window_size_seconds=0.0)


# Constant controls from user values (for generation).


def test_density_constant_matches_note_seq():
  control = controls.NoteDensityControl()
  signal = performance_controls.NoteDensityPerformanceControlSignal(
      3.0, DENSITY_BINS)
  assert control.size == signal.encoder.input_size == 8
  for value in (0.0, 0.5, 1.0, 4.0, 15.0, 63.9, 64.0, 1000.0):
    expected = signal.encoder.events_to_input([value], 0)
    np.testing.assert_array_equal(control.constant_inputs(value), expected)
  assert control.class_of(4.0) == 3
  assert control.constant_inputs().argmax() == control.class_of(
      controls.DEFAULT_NOTE_DENSITY)
  with pytest.raises(ValueError):
    control.constant_inputs(-1.0)


def test_histogram_constant_matches_note_seq():
  control = controls.PitchHistogramControl()
  encoder = performance_controls.PitchHistogramPerformanceControlSignal(
      5.0).encoder
  assert control.size == encoder.input_size == 12
  for value in ([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], [0.0] * 12,
                [2.0] + [0.0] * 11, list(controls.DEFAULT_PITCH_HISTOGRAM)):
    got = control.constant_inputs(value)
    assert got.dtype == np.float32 and got.shape == (12,)
    np.testing.assert_allclose(got, encoder.events_to_input([value], 0),
                               rtol=0, atol=1e-7)
  with pytest.raises(ValueError):
    control.constant_inputs([1.0] * 11)
  with pytest.raises(ValueError):
    control.constant_inputs([-1.0] + [1.0] * 11)


# Packaging and the benchmark.


def test_no_tensorflow_in_encodings():
  # A fresh interpreter (the point: this one has TensorFlow loaded); every
  # codec, those of tests/test_polyphony_pianoroll_encoding.py and
  # tests/test_melody_encodings.py too.
  code = ('import sys; import musicrnn.encodings.performance, '
          'musicrnn.encodings.controls, musicrnn.encodings.polyphony, '
          'musicrnn.encodings.pianoroll, musicrnn.encodings.melody, '
          'musicrnn.encodings.drums, musicrnn.encodings.lead_sheet; '
          'assert not [m for m in sys.modules if m.startswith("tensorflow")]')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, cwd=testing_lib.REPO_ROOT, timeout=120)
  assert result.returncode == 0, result.stderr


def test_encoding_benchmark_smoke(tmp_path):
  out = tmp_path / 'encoding.json'
  result = testing_lib.run_program('encoding_benchmark', '--smoke',
                                   f'--output_json={out}')
  assert result.returncode == 0, result.stderr
  with open(out) as f:
    results = json.load(f)
  assert results['midi_files'] == results['sequences'] == 4
  assert results['events'] > 0
  # The same events as Magenta's reference encoder, made faster (vectorised).
  assert results['mismatches_total'] == 0, results['mismatched_files']
  assert results['speed_ratio_ours_vs_reference_total'] > 1
  assert 'total' in result.stdout
