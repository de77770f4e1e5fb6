"""Metric quantization, the polyphony codec and the piano-roll codec.

References: note-seq's `quantize_note_sequence` (steps, refusals) and
`PianorollSequence` (piano-roll cells) directly; Magenta's polyphony encoder
through `magenta_polyphony_tokens`, a plain-loop port of its algorithm.
"""

import collections
import functools
import glob
import json
import os
import warnings

import note_seq
from note_seq import pianoroll_lib
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np
import pytest

from musicrnn.encodings import codec
from musicrnn.encodings import frames as frames_lib
from musicrnn.encodings import pianoroll
from musicrnn.encodings import polyphony
from musicrnn.encodings import quantize
import testing_lib

NOTE_SEQ_REASONS = {
    sequences_lib.MultipleTempoError: quantize.REASON_MULTIPLE_TEMPOS,
    sequences_lib.MultipleTimeSignatureError:
        quantize.REASON_MULTIPLE_TIME_SIGNATURES,
    sequences_lib.BadTimeSignatureError: quantize.REASON_BAD_TIME_SIGNATURE,
    sequences_lib.NegativeTimeError: quantize.REASON_NEGATIVE_TIME,
}
CHOPIN = ['chpn-p7.mid', 'chpn-p10.mid', 'chpn-p20.mid']  # 3/4, 3/4, 4/4


@functools.lru_cache(maxsize=None)
def _midi_bytes(path):
  with warnings.catch_warnings():
    # pretty_midi warns about meta events on non-zero tracks (Nottingham).
    warnings.simplefilter('ignore', RuntimeWarning)
    return note_seq.midi_file_to_note_sequence(path).SerializeToString()


def load(path):
  """A fresh NoteSequence parsed from a MIDI file (cached parse)."""
  return music_pb2.NoteSequence.FromString(_midi_bytes(path))


def one_tempo(sequence):
  """A copy keeping only the first tempo, so that note-seq quantizes it."""
  copy = music_pb2.NoteSequence()
  copy.CopyFrom(sequence)
  del copy.tempos[1:]
  return copy


def fixture_sequences():
  """Real MIDI with one tempo: karaoke.kar, Chopin with its first tempo."""
  sequences = {'karaoke.kar': load(testing_lib.testdata('midi', 'karaoke.kar'))}
  for name in CHOPIN:
    sequences[name] = one_tempo(load(testing_lib.testdata('midi', name)))
  return sequences


def nottingham_sample():
  """Every 25th Nottingham tune (one tempo each), parsed."""
  paths = sorted(glob.glob(
      os.path.join(testing_lib.SHARED_DATA, 'nottingham', 'MIDI', '*.mid')))
  assert paths
  return {os.path.basename(p): load(p) for p in paths[::25]}


def make(notes, qpm=120.0, total_time=None, tempos=None, signatures=None):
  """A NoteSequence from (pitch, start s, end s[, is_drum]) tuples."""
  sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
  for time, value in (tempos if tempos is not None else [(0.0, qpm)]):
    sequence.tempos.add(time=time, qpm=value)
  for time, numerator, denominator in signatures or []:
    sequence.time_signatures.add(time=time, numerator=numerator,
                                 denominator=denominator)
  for pitch, start, end, *drum in notes:
    sequence.notes.add(pitch=pitch, start_time=start, end_time=end,
                       velocity=80, is_drum=bool(drum and drum[0]))
  ends = [n.end_time for n in sequence.notes]
  sequence.total_time = total_time if total_time is not None else max(
      ends, default=0.0)
  return sequence


def note_seq_reason(sequence, steps_per_quarter=4):
  """(quantized proto, None) or (None, our reason for note-seq's refusal)."""
  try:
    return sequences_lib.quantize_note_sequence(
        sequence, steps_per_quarter), None
  except tuple(NOTE_SEQ_REASONS) as e:
    return None, NOTE_SEQ_REASONS[type(e)]


def our_reason(sequence, steps_per_quarter=4):
  try:
    return quantize.quantize_sequence(sequence, steps_per_quarter), None
  except codec.EncodingError as e:
    return None, e.reason


def assert_steps_match_note_seq(sequence, steps_per_quarter):
  reference, reason = note_seq_reason(sequence, steps_per_quarter)
  assert reason is None
  notes = quantize.quantize_sequence(sequence, steps_per_quarter)
  np.testing.assert_array_equal(
      notes.start_step, [n.quantized_start_step for n in reference.notes])
  np.testing.assert_array_equal(
      notes.end_step, [n.quantized_end_step for n in reference.notes])
  np.testing.assert_array_equal(notes.pitch, [n.pitch for n in reference.notes])
  assert notes.total_steps == reference.total_quantized_steps
  assert notes.qpm == reference.tempos[0].qpm
  assert (notes.numerator, notes.denominator) == (
      reference.time_signatures[0].numerator,
      reference.time_signatures[0].denominator)


# ----------------------------------------------------------------- quantize


@pytest.mark.parametrize('steps_per_quarter', [4, 12])
def test_quantize_steps_equal_note_seq_on_fixtures(steps_per_quarter):
  for sequence in fixture_sequences().values():
    assert_steps_match_note_seq(sequence, steps_per_quarter)


@pytest.mark.parametrize('name', CHOPIN)
def test_tempo_maps_refused_like_note_seq(name):
  sequence = load(testing_lib.testdata('midi', name))
  assert note_seq_reason(sequence)[1] == 'multiple_tempos'
  assert our_reason(sequence)[1] == 'multiple_tempos'


# (tempos, signatures, notes): note-seq's edge cases, accepted or refused.
EDGE_CASES = {
    'repeated_identical_tempo': ([(0, 90), (2, 90), (1, 90)], None, None),
    'late_120_tempo': ([(1.0, 120)], None, None),
    'late_other_tempo': ([(1.0, 90)], None, None),
    'tempo_change': ([(0, 90), (1.0, 100)], None, None),
    # note-seq compares later tempos with the first *given*, not the earliest.
    'unsorted_tempos': ([(1.0, 100), (0, 90)], None, None),
    'unsorted_tempos_3': ([(1.0, 100), (0, 90), (2.0, 90)], None, None),
    'repeated_signature': (None, [(0, 3, 4), (2.0, 3, 4)], None),
    'unsorted_signatures': (None, [(1.0, 3, 4), (0, 4, 4)], None),
    'late_4_4': (None, [(1.0, 4, 4)], None),
    'late_3_4': (None, [(1.0, 3, 4)], None),
    'signature_change': (None, [(0, 4, 4), (1.0, 3, 4)], None),
    'bad_denominator': (None, [(0, 3, 3)], None),
    'zero_numerator': (None, [(0, 0, 4)], None),
    'signature_and_tempo_change': ([(0, 90), (1, 91)], [(0, 4, 4), (1, 3, 4)],
                                   None),
    'slightly_negative_note': (None, None, [(60, -0.05, 0.5)]),
    'negative_note': (None, None, [(60, -1.0, 0.5)]),
    'zero_length_note': (None, None, [(60, 0.5, 0.5), (62, 0.51, 0.52)]),
    'rounding': (None, None, [(60, 0.0624, 0.0626), (61, 0.1875, 0.3125)]),
}


@pytest.mark.parametrize('case', sorted(EDGE_CASES))
def test_quantize_edge_cases_match_note_seq(case):
  tempos, signatures, notes = EDGE_CASES[case]
  sequence = make(notes or [(60, 0.0, 0.5), (64, 0.25, 1.0)],
                  tempos=tempos, signatures=signatures, total_time=3.0)
  reference, expected_reason = note_seq_reason(sequence)
  _, reason = our_reason(sequence)
  assert reason == expected_reason
  if reference is not None:
    assert_steps_match_note_seq(sequence, 4)


def test_quantize_cases_cover_each_reason():
  reasons = set()
  for tempos, signatures, notes in EDGE_CASES.values():
    sequence = make(notes or [(60, 0.0, 0.5)], tempos=tempos,
                    signatures=signatures)
    reasons.add(our_reason(sequence)[1])
  assert reasons == {None, 'multiple_tempos', 'multiple_time_signatures',
                     'bad_time_signature', 'negative_time'}


@testing_lib.requires_shared_data
def test_quantize_steps_equal_note_seq_on_nottingham():
  for sequence in nottingham_sample().values():
    _, reason = note_seq_reason(sequence)
    assert our_reason(sequence)[1] == reason
    if reason is None:
      assert_steps_match_note_seq(sequence, 4)


# ---------------------------------------------------------------- polyphony


def magenta_polyphony_tokens(quantized, poly_codec):
  """Magenta's `_from_quantized_sequence` in plain loops, as token ids."""
  starts = collections.defaultdict(list)
  ends = collections.defaultdict(list)
  for note in quantized.notes:
    if not note.is_drum:
      starts[note.quantized_start_step].append(note.pitch)
      ends[note.quantized_end_step].append(note.pitch)
  tokens = [polyphony.START]
  active = []
  for step in range(quantized.total_quantized_steps):
    step_events = []
    for pitch in ends[step]:
      active.remove(pitch)
    for pitch in active:
      step_events.append((pitch, int(poly_codec.continued_note_id(pitch))))
    for pitch in starts[step]:
      active.append(pitch)
      step_events.append((pitch, int(poly_codec.new_note_id(pitch))))
    step_events.sort(key=lambda e: e[0], reverse=True)
    tokens += [token for _, token in step_events] + [polyphony.STEP_END]
  return tokens + [polyphony.END]


def has_same_pitch_overlap(quantized):
  """True if two notes of one pitch share a step (Magenta gives 2 tokens)."""
  by_pitch = collections.defaultdict(list)
  for note in quantized.notes:
    if not note.is_drum:
      by_pitch[note.pitch].append(
          (note.quantized_start_step, note.quantized_end_step))
  for spans in by_pitch.values():
    spans.sort()
    if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
      return True
  return False


def expected_decoded_notes(quantized, min_pitch=0, max_pitch=127):
  """What decode(encode(x)) should give, by plain loops over cells.

  Per pitch: the steps any note sounds, split into notes at every onset.
  """
  held = collections.defaultdict(set)
  onsets = collections.defaultdict(set)
  for note in quantized.notes:
    if note.is_drum or not min_pitch <= note.pitch <= max_pitch:
      continue
    held[note.pitch].update(
        range(note.quantized_start_step, note.quantized_end_step))
    onsets[note.pitch].add(note.quantized_start_step)
  notes = []
  for pitch, steps in held.items():
    start = None
    for step in range(max(steps) + 2):
      if start is not None and (step not in steps or step in onsets[pitch]):
        notes.append((pitch, start, step))
        start = None
      if start is None and step in steps:
        start = step
  return sorted(notes)


def decoded_steps(sequence, qpm=120.0, steps_per_quarter=4):
  """(pitch, start step, end step) of a decoded sequence, sorted."""
  seconds_per_step = 60.0 / qpm / steps_per_quarter
  return sorted(
      (n.pitch, round(n.start_time / seconds_per_step),
       round(n.end_time / seconds_per_step)) for n in sequence.notes)


def names(poly_codec, ids):
  return [poly_codec.token_name(i) for i in ids]


def test_polyphony_vocabulary_is_magentas_one_hot_layout():
  poly = polyphony.PolyphonyCodec()
  assert poly.vocab_size == 259
  assert names(poly, [0, 1, 2, 3, 130, 131, 258]) == [
      'START', 'END', 'STEP_END', 'NEW(0)', 'NEW(127)', 'CONTINUED(0)',
      'CONTINUED(127)']
  small = polyphony.PolyphonyCodec(
      polyphony.PolyphonySettings(min_pitch=60, max_pitch=71))
  assert small.vocab_size == 27
  assert small.token_name(3) == 'NEW(60)'
  assert small.token_name(15) == 'CONTINUED(60)'
  with pytest.raises(ValueError):
    small.token_name(27)


def test_polyphony_hand_built_tokens():
  # At 120 qpm and 4 steps per quarter a step is 0.125 s.
  sequence = make([
      (60, 0.0, 0.25), (64, 0.0, 0.25), (67, 0.0, 0.25),  # chord, 2 steps
      (72, 0.375, 0.5), (72, 0.5, 0.625),                 # repeated note
      (65, 0.125, 0.5),                                   # under the chord
  ], total_time=0.875)                                    # 1 silent step
  poly = polyphony.PolyphonyCodec()
  ids = poly.encode(sequence)
  assert ids.dtype == np.int32
  assert names(poly, ids) == [
      'START',
      'NEW(67)', 'NEW(64)', 'NEW(60)', 'STEP_END',
      'CONTINUED(67)', 'NEW(65)', 'CONTINUED(64)', 'CONTINUED(60)', 'STEP_END',
      'CONTINUED(65)', 'STEP_END',                                 # step 2
      'NEW(72)', 'CONTINUED(65)', 'STEP_END',
      'NEW(72)', 'STEP_END',
      'STEP_END',                                                  # silent
      'STEP_END',                                                  # tail
      'END']
  decoded = poly.decode(ids)
  assert decoded_steps(decoded) == sorted([
      (60, 0, 2), (64, 0, 2), (67, 0, 2), (72, 3, 4), (72, 4, 5), (65, 1, 4)])
  assert decoded.total_time == pytest.approx(0.875)
  np.testing.assert_array_equal(poly.encode(decoded), ids)


def test_polyphony_orders_a_step_by_pitch_mixing_new_and_continued():
  # Magenta sorts a step's events by pitch only: a new note above a held one
  # comes first, a new note below it after.
  sequence = make([(64, 0.0, 0.5), (67, 0.125, 0.25), (60, 0.125, 0.25)])
  poly = polyphony.PolyphonyCodec()
  assert names(poly, poly.encode(sequence))[3:7] == [
      'NEW(67)', 'CONTINUED(64)', 'NEW(60)', 'STEP_END']


def test_polyphony_empty_sequence():
  poly = polyphony.PolyphonyCodec()
  np.testing.assert_array_equal(poly.encode(make([])), [0, 1])
  np.testing.assert_array_equal(
      poly.encode(make([], total_time=0.25)), [0, 2, 2, 1])
  assert not poly.decode([0, 1]).notes
  assert not poly.decode([]).notes


def test_polyphony_drops_drums_and_out_of_range_and_counts_them():
  sequence = make([(60, 0.0, 0.25), (36, 0.0, 0.25, True), (30, 0.0, 0.125),
                   (100, 0.0, 0.125)])
  poly = polyphony.PolyphonyCodec(
      polyphony.PolyphonySettings(min_pitch=36, max_pitch=96))
  ids, stats = poly.encode_with_stats(sequence)
  assert names(poly, ids) == ['START', 'NEW(60)', 'STEP_END', 'CONTINUED(60)',
                              'STEP_END', 'END']
  assert stats == {'notes': 1, 'drum_notes_dropped': 1,
                   'out_of_range_notes_dropped': 2, 'steps': 2}


def test_polyphony_same_pitch_overlaps_give_one_token_per_step():
  sequence = make([
      (60, 0.0, 0.25), (60, 0.0, 0.125),    # same onset twice: one NEW
      (62, 0.0, 0.625), (62, 0.25, 0.375),  # re-struck while held
  ])
  poly = polyphony.PolyphonyCodec()
  ids = poly.encode(sequence)
  assert names(poly, ids) == [
      'START', 'NEW(62)', 'NEW(60)', 'STEP_END',
      'CONTINUED(62)', 'CONTINUED(60)', 'STEP_END',
      'NEW(62)', 'STEP_END', 'CONTINUED(62)', 'STEP_END',
      'CONTINUED(62)', 'STEP_END', 'END']
  assert decoded_steps(poly.decode(ids)) == [(60, 0, 2), (62, 0, 2), (62, 2, 5)]
  quantized = sequences_lib.quantize_note_sequence(sequence, 4)
  assert decoded_steps(poly.decode(ids)) == expected_decoded_notes(quantized)


def test_polyphony_decode_is_lenient():
  poly = polyphony.PolyphonyCodec()
  new, cont = int(poly.new_note_id(60)), int(poly.continued_note_id(60))
  stray = int(poly.continued_note_id(50))
  ids = [0, new, 2, cont, stray, 2, 0, stray, 2, new, 1, new, 2, 2]
  decoded = poly.decode(ids)
  # START ignored, CONTINUED of a silent pitch ignored, all after END ignored,
  # and a NEW_NOTE in the last step, which has no STEP_END, still counts.
  assert decoded_steps(decoded) == [(60, 0, 2), (60, 3, 4)]
  assert decoded.total_time == pytest.approx(0.5)
  with pytest.raises(ValueError):
    poly.decode([0, 259])
  with pytest.raises(ValueError):
    poly.decode([[0, 1]])


def test_polyphony_decode_writes_seconds_tempo_and_4_4():
  poly = polyphony.PolyphonyCodec(polyphony.PolyphonySettings(qpm=90.0))
  sequence = poly.decode([0, int(poly.new_note_id(60)), 2, 2, 1])
  (note,) = sequence.notes
  assert (note.pitch, note.velocity) == (60, 100)
  assert note.start_time == 0.0
  assert note.end_time == pytest.approx(60.0 / 90.0 / 4)
  assert [(t.time, t.qpm) for t in sequence.tempos] == [(0.0, 90.0)]
  assert [(t.numerator, t.denominator) for t in sequence.time_signatures] == [
      (4, 4)]
  assert sequence.total_time == pytest.approx(2 * 60.0 / 90.0 / 4)
  assert not sequence.quantization_info.steps_per_quarter


def check_polyphony_on_real(sequences):
  poly = polyphony.PolyphonyCodec()
  checked = 0
  for name, sequence in sequences.items():
    quantized, reason = note_seq_reason(sequence)
    if reason:
      continue
    ids = poly.encode(sequence)
    assert ids.min() >= 0 and ids.max() < poly.vocab_size
    assert (ids == polyphony.STEP_END).sum() == quantized.total_quantized_steps
    decoded = poly.decode(ids)
    np.testing.assert_array_equal(poly.encode(decoded), ids, err_msg=name)
    assert decoded_steps(decoded) == expected_decoded_notes(quantized), name
    if not has_same_pitch_overlap(quantized):
      assert ids.tolist() == magenta_polyphony_tokens(quantized, poly), name
      checked += 1
  return checked


def test_polyphony_round_trip_and_magenta_tokens_on_fixtures():
  assert check_polyphony_on_real(fixture_sequences()) >= 3


@testing_lib.requires_shared_data
def test_polyphony_round_trip_and_magenta_tokens_on_nottingham():
  assert check_polyphony_on_real(nottingham_sample()) >= 30


def test_polyphony_refuses_tempo_maps():
  with pytest.raises(codec.EncodingError) as error:
    polyphony.PolyphonyCodec().encode(
        load(testing_lib.testdata('midi', 'chpn-p7.mid')))
  assert error.value.reason == 'multiple_tempos'


# ---------------------------------------------------------------- pianoroll


def test_pianoroll_hand_built_cells():
  settings = pianoroll.PianorollSettings(num_bars=1, min_pitch=60,
                                         max_pitch=71)
  roll_codec = pianoroll.PianorollCodec(settings)
  assert roll_codec.vocab_size == 12
  assert roll_codec.segment_shape == (16, 12)
  # 2.25 s = 18 steps: one whole bar of 16 steps, the last 2 steps dropped.
  sequence = make([
      (60, 0.0, 0.5),                    # steps 0-3
      (64, 0.25, 0.375), (64, 0.375, 0.5),  # repeated: steps 2 and 3, merged
      (71, 1.875, 2.25),                 # step 15, then cut off
      (59, 0.0, 1.0), (72, 0.0, 1.0),    # out of range
      (62, 0.0, 1.0, True),              # drum
  ], total_time=2.25)
  roll, stats = roll_codec.encode_with_stats(sequence)
  assert roll.dtype == np.uint8 and roll.shape == (1, 16, 12)
  expected = np.zeros((16, 12), np.uint8)
  expected[0:4, 0] = 1
  expected[2:4, 4] = 1
  expected[15, 11] = 1
  np.testing.assert_array_equal(roll[0], expected)
  assert stats == {'notes': 4, 'drum_notes_dropped': 1,
                   'out_of_range_notes_dropped': 2, 'steps': 18,
                   'steps_dropped': 2}
  decoded = roll_codec.decode(roll)
  assert decoded_steps(decoded) == [(60, 0, 4), (64, 2, 4), (71, 15, 16)]
  assert decoded.total_time == pytest.approx(2.0)
  assert {n.velocity for n in decoded.notes} == {100}
  assert [(t.numerator, t.denominator) for t in decoded.time_signatures] == [
      (4, 4)]


def test_pianoroll_segments_are_consecutive():
  settings = pianoroll.PianorollSettings(num_bars=1)
  roll_codec = pianoroll.PianorollCodec(settings)
  # A note across the bar line at 2 s (step 16) lands in both segments.
  roll = roll_codec.encode(make([(60, 1.75, 2.25)], total_time=4.5))
  assert roll.shape == (2, 16, 84)
  assert roll[0, 14:, 36].tolist() == [1, 1]
  assert roll[1, :2, 36].tolist() == [1, 1]
  assert roll.sum() == 4
  assert decoded_steps(roll_codec.decode(roll)) == [(60, 14, 18)]


def test_pianoroll_refusals():
  roll_codec = pianoroll.PianorollCodec()
  with pytest.raises(codec.EncodingError) as error:
    roll_codec.encode(make([(60, 0.0, 1.0)], total_time=7.9))
  assert error.value.reason == 'too_short'
  three_four = make([(60, 0.0, 1.0)], total_time=20.0,
                    signatures=[(0.0, 3, 4)])
  with pytest.raises(codec.EncodingError) as error:
    roll_codec.encode(three_four)
  assert error.value.reason == 'unsupported_time_signature'
  any_meter = pianoroll.PianorollCodec(
      pianoroll.PianorollSettings(require_4_4=False, quarters_per_bar=3))
  assert any_meter.encode(three_four).shape == (3, 48, 84)
  with pytest.raises(codec.EncodingError) as error:
    roll_codec.encode(load(testing_lib.testdata('midi', 'chpn-p20.mid')))
  assert error.value.reason == 'multiple_tempos'
  with pytest.raises(ValueError):
    pianoroll.PianorollSettings(quarters_per_bar=3)
  with pytest.raises(ValueError):
    roll_codec.decode(np.zeros((4, 83)))


def test_pianoroll_decode_takes_2d_3d_and_probabilities():
  roll_codec = pianoroll.PianorollCodec()
  rng = np.random.default_rng(0)
  roll = (rng.random((3, 64, 84)) < 0.1).astype(np.uint8)
  flat = roll_codec.decode(roll.reshape(-1, 84))
  assert roll_codec.decode(roll) == flat
  assert roll_codec.decode(roll.astype(bool)) == flat
  assert roll_codec.decode(roll * 0.8 + 0.1) == flat
  np.testing.assert_array_equal(roll_codec.encode(flat), roll)


def test_pianoroll_random_rolls_round_trip():
  rng = np.random.default_rng(1)
  roll_codec = pianoroll.PianorollCodec(
      pianoroll.PianorollSettings(num_bars=2, steps_per_quarter=3))
  for density in (0.0, 0.05, 0.5, 1.0):
    roll = (rng.random((4, 24, 84)) < density).astype(np.uint8)
    np.testing.assert_array_equal(roll_codec.encode(roll_codec.decode(roll)),
                                  roll)


def note_seq_pianoroll(quantized, settings):
  """note-seq's PianorollSequence cells as a [steps, pitches] 0/1 matrix."""
  reference = pianoroll_lib.PianorollSequence(
      quantized, min_pitch=settings.min_pitch, max_pitch=settings.max_pitch,
      split_repeats=False)
  cells = np.zeros((len(reference), settings.num_pitches), np.uint8)
  for step, pitches in enumerate(reference):
    cells[step, list(pitches)] = 1
  return cells


def check_pianoroll_on_real(sequences, settings):
  roll_codec = pianoroll.PianorollCodec(settings)
  checked = 0
  for name, sequence in sequences.items():
    quantized, _ = note_seq_reason(sequence, settings.steps_per_quarter)
    try:
      roll = roll_codec.encode(sequence)
    except codec.EncodingError as e:
      assert e.reason in ('unsupported_time_signature', 'too_short',
                          'multiple_time_signatures'), name
      continue
    flat = roll.reshape(-1, settings.num_pitches)
    np.testing.assert_array_equal(
        flat, note_seq_pianoroll(quantized, settings)[:len(flat)],
        err_msg=name)
    np.testing.assert_array_equal(roll_codec.encode(roll_codec.decode(roll)),
                                  roll, err_msg=name)
    checked += 1
  return checked


def test_pianoroll_equals_note_seq_pianoroll_on_fixtures():
  sequences = fixture_sequences()
  assert check_pianoroll_on_real(sequences, pianoroll.PianorollSettings()) == 2
  # Any meter, one-bar segments, the full MIDI range: all four files.
  settings = pianoroll.PianorollSettings(
      require_4_4=False, num_bars=1, min_pitch=0, max_pitch=127)
  assert check_pianoroll_on_real(sequences, settings) == 4


@testing_lib.requires_shared_data
def test_pianoroll_equals_note_seq_pianoroll_on_nottingham():
  assert check_pianoroll_on_real(nottingham_sample(),
                                 pianoroll.PianorollSettings()) >= 15


# -------------------------------------------------------------------- specs


@pytest.mark.parametrize('made', [
    polyphony.PolyphonyCodec(),
    polyphony.PolyphonyCodec(polyphony.PolyphonySettings(
        steps_per_quarter=2, min_pitch=36, max_pitch=84, qpm=100.0)),
    pianoroll.PianorollCodec(),
    pianoroll.PianorollCodec(pianoroll.PianorollSettings(
        quarters_per_bar=3, require_4_4=False, num_bars=2, min_pitch=21,
        max_pitch=108, qpm=90.0)),
])
def test_spec_round_trips_through_json(made):
  spec = json.loads(json.dumps(made.spec()))
  rebuilt = codec.codec_from_spec(spec)
  assert rebuilt == made
  assert type(rebuilt) is type(made)
  assert rebuilt.vocab_size == made.vocab_size


def test_spec_names_and_bad_settings():
  assert polyphony.PolyphonyCodec().spec()['name'] == 'polyphony'
  assert pianoroll.PianorollCodec().spec()['name'] == 'pianoroll'
  with pytest.raises(ValueError):
    codec.codec_from_spec({'name': 'polyphony', 'settings': {'bars': 2}})
  with pytest.raises(ValueError):
    polyphony.PolyphonySettings(min_pitch=60, max_pitch=59)


# That these codecs import no TensorFlow is checked in one fresh interpreter
# with the performance codecs: test_performance_encoding.py's
# test_no_tensorflow_in_encodings.


# -------------------------------------------------------------- frame rolls


def check_frames_on_real(sequences, settings):
  """Frames against note-seq: the sounding keys (onset or held) are
  PianorollSequence's cells, the onsets the quantized note starts; decoding
  and encoding again gives the same frames."""
  frame_codec = frames_lib.FrameRollCodec(settings)
  keys = settings.num_keys
  checked = 0
  for name, sequence in sequences.items():
    quantized, reason = note_seq_reason(sequence, settings.steps_per_quarter)
    if quantized is None:
      with pytest.raises(codec.EncodingError) as refused:
        frame_codec.encode(sequence)
      assert refused.value.reason == reason, name
      continue
    encoded = frame_codec.encode(sequence)
    assert encoded.shape == (quantized.total_quantized_steps, 2 * keys), name
    onset, held = encoded[:, :keys], encoded[:, keys:]
    assert not (onset & held).any(), name
    cells = note_seq_pianoroll(quantized, pianoroll.PianorollSettings(
        min_pitch=settings.min_pitch, max_pitch=settings.max_pitch,
        require_4_4=False))
    np.testing.assert_array_equal(onset | held, cells[:len(encoded)], err_msg=name)
    starts = np.zeros_like(onset)
    for note in quantized.notes:
      if (not note.is_drum and settings.min_pitch <= note.pitch <= settings.max_pitch
          and note.quantized_start_step < len(encoded)):
        starts[note.quantized_start_step, note.pitch - settings.min_pitch] = 1
    np.testing.assert_array_equal(onset, starts, err_msg=name)
    np.testing.assert_array_equal(frame_codec.encode(frame_codec.decode(encoded)),
                                  encoded, err_msg=name)
    checked += 1
  return checked


def test_frames_equal_note_seq_on_fixtures():
  assert check_frames_on_real(fixture_sequences(), frames_lib.FrameRollSettings()) == 4


@testing_lib.requires_shared_data
def test_frames_equal_note_seq_on_nottingham():
  assert check_frames_on_real(nottingham_sample(),
                              frames_lib.FrameRollSettings()) >= 30


def test_frames_hand_built():
  """A re-struck key is two notes; a held key with no onset starts one;
  drums and keys out of range are left out."""
  sequence = make([(60, 0.0, 0.5), (60, 0.5, 1.0), (64, 0.25, 0.75),
                   (36, 0.0, 1.0, True), (110, 0.0, 0.5)])
  settings = frames_lib.FrameRollSettings()
  frame_codec = frames_lib.FrameRollCodec(settings)
  assert frame_codec.vocab_size == 176
  encoded = frame_codec.encode(sequence)   # 8 sixteenths at 120 qpm
  c4, e4 = 60 - 21, 64 - 21
  assert encoded.shape == (8, 176)
  assert encoded[:, c4].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
  assert encoded[:, 88 + c4].tolist() == [0, 1, 1, 1, 0, 1, 1, 1]
  assert encoded[:, e4].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]
  assert encoded[:, 88 + e4].tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
  assert encoded.sum() == 2 + 6 + 1 + 3
  decoded = frame_codec.decode(encoded)
  assert [(n.pitch, n.start_time, n.end_time) for n in decoded.notes] == [
      (60, 0.0, 0.5), (64, 0.25, 0.75), (60, 0.5, 1.0)]
  held_only = np.zeros((4, 176), np.uint8)
  held_only[1:3, 88 + c4] = 1
  assert [(n.pitch, n.start_time, n.end_time)
          for n in frame_codec.decode(held_only).notes] == [(60, 0.125, 0.375)]
  with pytest.raises(ValueError, match='frames must be'):
    frame_codec.decode(np.zeros((4, 88)))
  assert codec.codec_from_spec(json.loads(json.dumps(frame_codec.spec()))) == frame_codec


def test_key_frames_are_the_frame_rolls_sounding_keys():
  """KeyFrameCodec: a key's bit is FrameRollCodec's onset or held bit, and
  decoding gives each run of set frames as one note."""
  settings = frames_lib.FrameRollSettings()
  both = frames_lib.FrameRollCodec(settings)
  keys = frames_lib.KeyFrameCodec(settings)
  assert keys.vocab_size == 88 and keys.spec()['name'] == 'key_frames'
  checked = 0
  for sequence in fixture_sequences().values():
    bits = both.encode(sequence)
    frames = keys.encode(sequence)
    np.testing.assert_array_equal(frames, bits[:, :88] | bits[:, 88:])
    np.testing.assert_array_equal(keys.encode(keys.decode(frames)), frames)
    checked += 1
  assert checked == 4
  roll = np.zeros((6, 88), np.uint8)
  c4, e4 = 60 - 21, 64 - 21
  roll[0:3, c4] = 1
  roll[2:4, e4] = 1
  roll[4:6, c4] = 1
  assert [(n.pitch, n.start_time, n.end_time)
          for n in keys.decode(roll).notes] == [
              (60, 0.0, 0.375), (64, 0.25, 0.5), (60, 0.5, 0.75)]
  with pytest.raises(ValueError, match='frames must be'):
    keys.decode(np.zeros((4, 176)))
  assert codec.codec_from_spec(json.loads(json.dumps(keys.spec()))) == keys


def test_frame_events_spell_each_frame_and_their_grammar_is_exact():
  """frame_events: each frame's keys lowest first, then FRAME_END; the
  tokens give the frames back; with the grammar's masks any model's
  probabilities of the 2^K frames of K keys sum to one (an exact
  factorisation of a frame)."""
  settings = frames_lib.FrameRollSettings()
  events = frames_lib.FrameEventCodec(settings)
  keys = frames_lib.KeyFrameCodec(settings)
  assert events.vocab_size == 89 and events.frame_end_id == 88
  for sequence in fixture_sequences().values():
    frames = keys.encode(sequence)
    ids = events.encode(sequence)
    np.testing.assert_array_equal(ids, events.encode_key_frames(frames))
    np.testing.assert_array_equal(events.frames(ids), frames)
    assert events.num_steps(ids) == len(frames)
    states = events.grammar().states(ids[None])
    assert all(events.grammar().allows(s, [t])[0] for s, t in zip(states, ids))
  roll = np.zeros((3, 88), np.uint8)
  roll[0, [39, 43, 46]] = 1
  roll[2, 5] = 1
  assert events.encode_key_frames(roll).tolist() == [39, 43, 46, 88, 88, 5, 88]
  assert [(n.pitch, n.start_time) for n in events.decode([39, 88, 88, 5]).notes] == [
      (60, 0.0), (26, 0.25)]
  # Exactness on 4 keys: a random next-token distribution for every prefix.
  small = frames_lib.FrameEventCodec(
      frames_lib.FrameRollSettings(min_pitch=60, max_pitch=63))
  grammar = small.grammar()
  rng = np.random.default_rng(0)
  table = {}

  def probability(tokens):
    p = 1.0
    state = grammar.initial_state(1, np)
    for t, token in enumerate(tokens):
      logits = table.setdefault(tuple(tokens[:t]), rng.normal(size=5))
      allowed = grammar.allowed(state, np)[0]
      weights = np.where(allowed, np.exp(logits), 0.0)
      p *= weights[token] / weights.sum()
      state = grammar.update(state, [token], np)
    return p

  total = sum(probability(list(small.encode_key_frames(
      np.array([[(mask >> k) & 1 for k in range(4)]], np.uint8))))
              for mask in range(16))
  assert total == pytest.approx(1.0)
  capped = small.grammar(max_polyphony=2)
  state = capped.states(np.array([[0, 2]]))[-1]
  assert capped.allowed(state, np)[0].tolist() == [False] * 4 + [True]
