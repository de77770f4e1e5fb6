"""The note-tuple codec: one (chord, offset, duration) token per onset, a
chord vocabulary counted from data, round trips."""

import collections
import json

import note_seq
import numpy as np
import pytest

from musicrnn.encodings import codec
from musicrnn.encodings import note_tuple
import testing_lib


def _sequence(notes, qpm=120.0):
  """A NoteSequence of (pitch, start quarter, end quarter[, drum]) at qpm."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(qpm=qpm)
  for pitch, start, end, *drum in notes:
    sequence.notes.add(pitch=pitch, velocity=80, start_time=start * 60 / qpm,
                       end_time=end * 60 / qpm, is_drum=bool(drum and drum[0]))
  sequence.total_time = max(n.end_time for n in sequence.notes)
  return sequence


def test_hand_built_tokens():
  # A C major chord for a quarter, E a half later for a dotted quarter, a
  # drum hit (left out), then an unknown chord.
  sequence = _sequence([(60, 0, 1), (64, 0, 1), (67, 0, 0.9), (64, 1.5, 3),
                        (36, 1.5, 2, True), (61, 2.5, 2.75), (66, 2.5, 2.75)],
                       qpm=90.0)
  plain = note_tuple.NoteTupleCodec()
  assert plain.chords(sequence) == [(60, 64, 67), (64,), (61, 66)]
  tuples = plain.with_vocabulary({(60, 64, 67): 3, (64,): 5, (62,): 1})
  assert tuples.settings.chord_vocabulary == ((64,), (60, 64, 67), (62,))
  chord, offset, duration = tuples.split(tuples.encode(sequence))
  assert chord.tolist() == [2, 1, note_tuple.OTHER]
  values = tuples.settings
  assert [values.offset_values[i] for i in offset] == [0.0, 1.5, 1.0]
  assert [values.duration_values[i] for i in duration] == [1.0, 1.5, 0.25]
  decoded = tuples.decode(tuples.encode(sequence))
  # 120 qpm on decode: a quarter is 0.5 s; the unknown chord leaves no note.
  assert [(n.pitch, n.start_time, n.end_time) for n in decoded.notes] == [
      (60, 0.0, 0.5), (64, 0.0, 0.5), (67, 0.0, 0.5), (64, 0.75, 1.5)]


def test_pack_and_split_are_inverse_and_cover_the_vocabulary():
  tuples = note_tuple.NoteTupleCodec().with_vocabulary({(60,): 2, (62, 65): 1})
  chords, offsets, durations = tuples.head_sizes
  assert (chords, offsets, durations) == (3, 13, 12)
  assert tuples.vocab_size == 3 * 13 * 12
  ids = np.arange(tuples.vocab_size)
  parts = tuples.split(ids)
  np.testing.assert_array_equal(tuples.pack(*parts), ids)
  assert [p.max() for p in parts] == [2, 12, 11]


def test_random_tokens_round_trip():
  """Tokens whose chords are known and whose offsets after the first are
  not zero (a zero offset would merge two chords into one onset) decode to
  music that encodes to the same tokens."""
  rng = np.random.default_rng(0)
  vocabulary = {tuple(sorted(rng.choice(np.arange(36, 90), size=k, replace=False)
                              .tolist())): 1 for k in (1, 1, 2, 3, 4, 2)}
  tuples = note_tuple.NoteTupleCodec().with_vocabulary(vocabulary)
  chords, offsets, durations = tuples.head_sizes
  for _ in range(20):
    n = int(rng.integers(1, 40))
    chord = rng.integers(1, chords, n)
    offset = rng.integers(1, offsets, n)
    offset[0] = rng.integers(0, offsets)
    duration = rng.integers(0, durations, n)
    ids = tuples.pack(chord, offset, duration)
    np.testing.assert_array_equal(tuples.encode(tuples.decode(ids)), ids)


def test_real_music_keeps_pitches_and_onset_order():
  sequence = note_seq.midi_file_to_note_sequence(testing_lib.testdata('pop', 'mr_blue_sky.mid'))
  plain = note_tuple.NoteTupleCodec()
  counts = collections.Counter(plain.chords(sequence))
  tuples = plain.with_vocabulary(counts)
  assert len(tuples.settings.chord_vocabulary) == min(len(counts), 256)
  ids = tuples.encode(sequence)
  assert len(ids) == len(plain.chords(sequence))
  chord, offset, duration = tuples.split(ids)
  assert (chord != note_tuple.OTHER).mean() > 0.9
  # Every known chord's pitches sound from the running sum of the rounded
  # offsets (0.5 s a quarter at decode's 120 qpm), for its rounded duration.
  settings = tuples.settings
  onsets = np.cumsum(np.asarray(settings.offset_values)[offset]) * 0.5
  lengths = np.asarray(settings.duration_values)[duration] * 0.5
  expected = sorted(
      (round(start, 6), round(start + length, 6), pitch)
      for c, start, length in zip(chord, onsets, lengths) if c
      for pitch in settings.chord_vocabulary[c - 1])
  assert sorted((round(n.start_time, 6), round(n.end_time, 6), n.pitch)
                for n in tuples.decode(ids).notes) == expected


def test_spec_round_trips_and_bad_settings():
  tuples = note_tuple.NoteTupleCodec().with_vocabulary({(60, 64): 2, (55,): 1})
  rebuilt = codec.codec_from_spec(json.loads(json.dumps(tuples.spec())))
  assert rebuilt == tuples and hash(rebuilt) == hash(tuples)
  with pytest.raises(ValueError, match='sorted tuple'):
    note_tuple.NoteTupleSettings(chord_vocabulary=((64, 60),))
  with pytest.raises(ValueError, match='more than max_chords'):
    note_tuple.NoteTupleSettings(chord_vocabulary=((60,), (61,)), max_chords=1)
  with pytest.raises(ValueError, match='ascending'):
    note_tuple.NoteTupleSettings(offset_values=(0.5, 0.25))
  with pytest.raises(codec.EncodingError) as refused:
    note_tuple.NoteTupleCodec().encode(_sequence([(36, 0, 1, True)]))
  assert refused.value.reason == 'too_short'


def test_learned_vocabulary_is_counted_and_described():
  """`with_counts` keeps the most frequent chords; the log line says how
  many onsets they cover and, when too few, which setting keeps more."""
  blank = note_tuple.NoteTupleCodec(note_tuple.NoteTupleSettings(max_chords=1))
  assert blank.needs_counts and blank.learned_settings == ('chord_vocabulary',)
  learned = blank.with_counts({(60,): 9, (62, 65): 1})
  assert not learned.needs_counts
  assert learned.settings.chord_vocabulary == ((60,),)
  line = learned.describe_learned({(60,): 9, (62, 65): 1})
  assert line.startswith('1 chords kept of 2 distinct: 90.0% of the 10 onsets')
  assert 'max_chords' not in line
  assert 'max_chords' in learned.describe_learned({(60,): 5, (62, 65): 5})
  assert codec.codec_from_spec(learned.spec()) == learned
