"""The Melody, Drums and Improv RNN codecs equal note-seq's, id for id.

Reference: note-seq 0.0.5 as Magenta's configs use it (melody_rnn_model.py,
drums_rnn_model.py, improv_rnn_model.py): `Melody.from_quantized_sequence`
and `DrumTrack.from_quantized_sequence` walked as Magenta's extractors walk
them (every instrument, a melody then the next from the following bar),
`Melody.squash`, `event_list_chords`, `ChordProgression.transpose`, and the
encoder-decoders (`MelodyOneHotEncoding` under `OneHotEventSequenceEncoderDecoder`
and `LookbackEventSequenceEncoderDecoder`, `KeyMelodyEncoderDecoder`,
`MultiDrumOneHotEncoding`, the chord encodings under
`ConditionalEventSequenceEncoderDecoder`): event ids, every step's input
vector (`get_inputs_batch(..., full_length=True)`) and label
(`events_to_label`), the training pairs (`encode`) and the decoding of
labels (`class_index_to_event`).

On the committed MIDI (tests/testdata, the quick-start corpus), on seeded
random event sequences that reach the corner cases, and on the development
corpora when ../shared/data is there: a sample of Nottingham and every Groove
validation file by default; every Nottingham file with
MUSICRNN_EVERY_TRACK=1 in the environment (several minutes).
"""

import csv
import functools
import glob
import os
import random
import types
import warnings

import note_seq
from note_seq import chord_inference
from note_seq import chords_lib
from note_seq import drums_encoder_decoder
from note_seq import melodies_lib
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np
import pytest

from musicrnn import encodings
from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import drums
from musicrnn.encodings import event_sequence
from musicrnn.encodings import lead_sheet
from musicrnn.encodings import melody
from musicrnn.encodings import quantize
import testing_lib

FIXTURES = sorted(
    glob.glob(testing_lib.testdata('midi', '*.mid'))
    + glob.glob(testing_lib.testdata('midi', '*.kar'))
    + glob.glob(testing_lib.testdata('pop', '*.mid'))
    + glob.glob(os.path.join(testing_lib.REPO_ROOT, 'musicrnn',
                             'quickstart_corpus', '*.mid')))
FIXTURE_IDS = [os.path.basename(p) for p in FIXTURES]
EVERY_TRACK = os.environ.get('MUSICRNN_EVERY_TRACK') == '1'
# One Nottingham tune in this many in the default run.
NOTTINGHAM_STRIDE = 1 if EVERY_TRACK else 40


def reference_encoder_decoder(config_id):
  """note-seq's encoder-decoder of a Magenta config, built as Magenta's
  *_rnn_model.py files build them (not from our settings)."""
  one_hot_melody = note_seq.MelodyOneHotEncoding(min_note=48, max_note=84)
  triad = note_seq.OneHotEventSequenceEncoderDecoder(
      note_seq.TriadChordOneHotEncoding())
  return {
      'basic_rnn': lambda: note_seq.OneHotEventSequenceEncoderDecoder(
          one_hot_melody),
      'mono_rnn': lambda: note_seq.OneHotEventSequenceEncoderDecoder(
          note_seq.MelodyOneHotEncoding(min_note=0, max_note=128)),
      'lookback_rnn': lambda: note_seq.LookbackEventSequenceEncoderDecoder(
          one_hot_melody),
      'attention_rnn': lambda: note_seq.KeyMelodyEncoderDecoder(
          min_note=48, max_note=84),
      'drum_kit': lambda: note_seq.LookbackEventSequenceEncoderDecoder(
          note_seq.MultiDrumOneHotEncoding(), lookback_distances=[],
          binary_counter_bits=6),
      'one_drum': lambda: note_seq.OneHotEventSequenceEncoderDecoder(
          note_seq.MultiDrumOneHotEncoding(
              [[39] + list(range(0, 39)) + list(range(39, 128))])),
      'basic_improv': lambda: note_seq.ConditionalEventSequenceEncoderDecoder(
          triad, note_seq.OneHotEventSequenceEncoderDecoder(one_hot_melody)),
      'attention_improv': lambda: (
          note_seq.ConditionalEventSequenceEncoderDecoder(
              triad, note_seq.KeyMelodyEncoderDecoder(min_note=48,
                                                      max_note=84))),
      'chord_pitches_improv': lambda: (
          note_seq.ConditionalEventSequenceEncoderDecoder(
              note_seq.PitchChordsEncoderDecoder(),
              note_seq.OneHotEventSequenceEncoderDecoder(one_hot_melody))),
  }[config_id]()


MELODY_CONFIGS = ('basic_rnn', 'mono_rnn', 'lookback_rnn', 'attention_rnn')
DRUM_CONFIGS = ('drum_kit', 'one_drum')
IMPROV_CONFIGS = ('basic_improv', 'attention_improv', 'chord_pitches_improv')
# (transpose_to_key, min_note, max_note) of each Magenta config.
MAGENTA_RANGES = {'basic_rnn': (0, 48, 84), 'mono_rnn': (None, 0, 128),
                  'lookback_rnn': (0, 48, 84), 'attention_rnn': (0, 48, 84),
                  'basic_improv': (None, 48, 84),
                  'attention_improv': (None, 48, 84),
                  'chord_pitches_improv': (None, 48, 84)}


@functools.lru_cache(maxsize=None)
def _parsed(path):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # pretty_midi's meta-event warnings
    return note_seq.midi_file_to_note_sequence(path).SerializeToString()


def pieces(path):
  """A MIDI file's pieces of one tempo and meter, as Magenta splits them."""
  sequence = music_pb2.NoteSequence.FromString(_parsed(path))
  return sequences_lib.split_note_sequence_on_time_changes(sequence)


def reference_melodies(quantized, **kwargs):
  """(instrument, search start step, Melody or 'polyphonic') of every melody
  note-seq reads, walked as Magenta's extract_melodies walks them; the walk
  of an instrument ends with an empty Melody (or the refusal)."""
  bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
  for instrument in sorted({n.instrument for n in quantized.notes}):
    start = 0
    while True:
      found = note_seq.Melody()
      try:
        found.from_quantized_sequence(quantized, search_start_step=start,
                                      instrument=instrument, **kwargs)
      except melodies_lib.PolyphonicMelodyError:
        yield instrument, start, 'polyphonic'
        break
      yield instrument, start, found
      if not found:
        break
      start = found.end_step + (-found.end_step) % bar


def reference_drum_tracks(quantized, **kwargs):
  """(search start step, DrumTrack) of every drum track note-seq reads, as
  Magenta's extract_drum_tracks walks them, ending with an empty one."""
  bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
  start = 0
  while True:
    track = note_seq.DrumTrack()
    track.from_quantized_sequence(quantized, search_start_step=start, **kwargs)
    yield start, track
    if not track:
      break
    start = track.end_step + (-track.end_step) % bar


def ours_or_reason(function, *args, **kwargs):
  try:
    return function(*args, **kwargs)
  except codec_lib.EncodingError as e:
    return e.reason


def assert_melodies_equal_note_seq(piece, steps_per_quarter=4, **kwargs):
  """Our melody reading equals note-seq's for every melody of every
  instrument; returns the melodies (note-seq's)."""
  quantized = sequences_lib.quantize_note_sequence(piece, steps_per_quarter)
  notes = quantize.quantize_sequence(piece, steps_per_quarter)
  found = []
  for instrument, start, expected in reference_melodies(quantized, **kwargs):
    ours = ours_or_reason(melody.extract_melody, notes, instrument=instrument,
                          search_start_step=start, **kwargs)
    if expected == 'polyphonic':
      assert ours == melody.REASON_POLYPHONIC
      continue
    assert ours.events.tolist() == list(expected)
    if expected:
      assert (ours.start_step, ours.end_step) == (expected.start_step,
                                                  expected.end_step)
      assert ours.steps_per_bar == expected.steps_per_bar
      found.append(expected)
  return found


def assert_encoder_equals_note_seq(our_codec, reference, events):
  """Every step's input and label, the training pairs and the decoding of
  the labels equal note-seq's, for one event sequence (a Melody or
  DrumTrack note-seq holds)."""
  ids = our_codec.event_ids(events)
  one_hot = getattr(reference, '_one_hot_encoding', None)
  if one_hot is not None:
    np.testing.assert_array_equal(ids, [one_hot.encode_event(e) for e in events])
  inputs = our_codec.inputs(ids)
  expected_inputs = np.array(
      reference.get_inputs_batch([events], full_length=True)[0], np.float32)
  np.testing.assert_array_equal(inputs.reshape(expected_inputs.shape),
                                expected_inputs)
  assert inputs.shape == (len(events), reference.input_size)
  labels = our_codec.labels(ids)
  np.testing.assert_array_equal(
      labels, [reference.events_to_label(events, i) for i in range(len(events))])
  pair_inputs, pair_labels = our_codec.training_example(ids)
  expected_pair = reference.encode(events)
  np.testing.assert_array_equal(pair_inputs.reshape(-1, reference.input_size),
                                np.array(expected_pair[0], np.float32).reshape(
                                    -1, reference.input_size))
  np.testing.assert_array_equal(pair_labels, expected_pair[1])
  # Labels read back, each after the events before it.
  if len(ids):
    np.testing.assert_array_equal(
        our_codec.ids_from_labels(labels[1:], primer=ids[:1]), ids[1:])


def squashed(events, config_id):
  """(note-seq's squashed Melody, our squashed events) for a config."""
  key, low, high = MAGENTA_RANGES[config_id]
  expected = note_seq.Melody(list(events))
  amount = expected.squash(low, high, key)
  ours, our_amount = melody.squash(list(events), low, high, key)
  assert our_amount == amount
  assert ours.tolist() == list(expected)
  return expected


# ----------------------------------------------------------- shapes, specs


@pytest.mark.parametrize('config_id',
                         MELODY_CONFIGS + DRUM_CONFIGS + IMPROV_CONFIGS)
def test_sizes_equal_magenta_configs(config_id):
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  assert ours.input_size == reference.input_size
  assert ours.num_classes == reference.num_classes
  assert codec_lib.codec_from_spec(ours.spec()) == ours


def test_magenta_sizes():
  """The sizes the models and the bundle import depend on."""
  sizes = {name: (encodings.magenta_codec(name).vocab_size,
                  encodings.magenta_codec(name).input_size,
                  encodings.magenta_codec(name).num_classes)
           for name in encodings.MAGENTA_CODECS}
  assert sizes == {
      'basic_rnn': (38, 38, 38), 'mono_rnn': (130, 130, 130),
      'lookback_rnn': (38, 121, 40), 'attention_rnn': (38, 74, 40),
      'drum_kit': (512, 518, 512), 'one_drum': (2, 2, 2),
      'basic_improv': (38, 87, 38), 'attention_improv': (38, 123, 40),
      'chord_pitches_improv': (38, 75, 38)}
  with pytest.raises(ValueError, match='basic_rnn'):
    encodings.magenta_codec('polyphony_rnn')


def test_specs_are_json_and_rebuild():
  for name, (cls, settings) in encodings.MAGENTA_CODECS.items():
    spec = cls(settings).spec()
    rebuilt = codec_lib.codec_from_spec(spec)
    assert rebuilt == cls(settings), name
    assert rebuilt.spec() == spec
  # Settings left None take the encoder's defaults, so specs hold numbers.
  key = melody.MelodySettings(encoder=melody.KEY)
  assert (key.lookback_distances, key.binary_counter_bits) == ((16, 32), 7)
  assert key == melody.MelodySettings(encoder='key',
                                      lookback_distances=[16, 32],
                                      binary_counter_bits=7)


@pytest.mark.parametrize('make', [
    lambda: melody.MelodySettings(encoder='one_hot', lookback_distances=(16,)),
    lambda: melody.MelodySettings(encoder='key', lookback_distances=()),
    lambda: melody.MelodySettings(encoder='bidirectional'),
    lambda: melody.MelodySettings(min_note=60, max_note=60),
    lambda: melody.MelodySettings(max_note=129),
    lambda: melody.MelodySettings(transpose_to_key=12),
    lambda: melody.MelodySettings(encoder='lookback',
                                  lookback_distances=(32, 16)),
    lambda: melody.MelodySettings(steps_per_quarter=0),
    lambda: drums.DrumsSettings(drum_type_pitches=()),
    lambda: drums.DrumsSettings(drum_type_pitches=((36,), (128,))),
    lambda: lead_sheet.LeadSheetSettings(chord_encoding='sevenths'),
])
def test_bad_settings(make):
  with pytest.raises(ValueError):
    make()


# ------------------------------------------------------------------ melody


@pytest.mark.parametrize('path', FIXTURES, ids=FIXTURE_IDS)
def test_melody_reading_equals_note_seq_on_fixtures(path):
  for piece in pieces(path):
    for kwargs in (dict(gap_bars=1, pad_end=True, ignore_polyphonic_notes=True),
                   dict(gap_bars=1.5, ignore_polyphonic_notes=False),
                   dict(gap_bars=2, filter_drums=False,
                        ignore_polyphonic_notes=True)):
      assert_melodies_equal_note_seq(piece, **kwargs)


# The fixture melodies the encoders are compared on: those of two bars or
# more (Magenta's pipelines keep those of seven), cut to 128 steps, since
# note-seq's key encoder takes time quadratic in the length (the corpus
# tests compare whole melodies).
MIN_STEPS = 32
MAX_STEPS = 128


@functools.lru_cache(maxsize=None)
def fixture_melodies():
  """The melodies of the committed fixtures (note-seq's), see MIN_STEPS."""
  found = []
  for path in FIXTURES:
    for piece in pieces(path):
      found += assert_melodies_equal_note_seq(
          piece, gap_bars=1, pad_end=True, ignore_polyphonic_notes=True)
  found = [each for each in found if len(each) >= MIN_STEPS]
  for each in found:
    if len(each) > MAX_STEPS:
      each.set_length(MAX_STEPS)
  return found


def test_fixtures_found():
  assert len(FIXTURES) == 18
  assert len(fixture_melodies()) > 100
  assert len(fixture_drum_tracks(4)) > 20


@pytest.mark.parametrize('config_id', MELODY_CONFIGS)
def test_melody_encoders_equal_note_seq_on_fixtures(config_id):
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  for found in fixture_melodies():
    assert_encoder_equals_note_seq(ours, reference, squashed(found, config_id))


def random_melody(rng, length, low, high):
  """Melody events with every kind of step, and repeats 16 and 32 steps
  back (the lookbacks)."""
  events = []
  for i in range(length):
    draw = rng.random()
    if i >= 32 and draw < 0.3:
      events.append(events[i - rng.choice((16, 32))])
    elif draw < 0.6:
      events.append(melody.NO_EVENT)
    elif draw < 0.7:
      events.append(melody.NOTE_OFF)
    else:
      events.append(rng.randrange(low, high))
  return events


@pytest.mark.parametrize('config_id', MELODY_CONFIGS)
def test_melody_encoders_equal_note_seq_on_random_melodies(config_id):
  rng = random.Random(config_id)
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  s = ours.settings
  for length in [0, 1, 2, 15, 16, 17, 33, 70, 150]:
    for _ in range(3):
      events = note_seq.Melody(random_melody(rng, length, s.min_note,
                                             s.max_note))
      assert_encoder_equals_note_seq(ours, reference, events)
  # Events a model generated: a NOTE_OFF first (a Melody built from a list
  # cleans it away, one extended event by event does not), and pitch 0,
  # which note-seq's key encoder reads as silence.
  generated = note_seq.Melody()
  for event in [melody.NOTE_OFF, s.min_note, melody.NO_EVENT, s.min_note,
                melody.NOTE_OFF, s.max_note - 1, melody.NO_EVENT]:
    generated.append(event)
  assert_encoder_equals_note_seq(ours, reference, generated)


def test_key_encoder_reads_pitch_zero_as_note_seq_does():
  ours = melody.MelodyCodec(melody.MelodySettings(encoder='key', min_note=0,
                                                  max_note=128))
  reference = note_seq.KeyMelodyEncoderDecoder(min_note=0, max_note=128)
  events = note_seq.Melody([0, -2, 12, -1, 0, 1, 0, -2, 0, 60, 59, 59, 0])
  assert_encoder_equals_note_seq(ours, reference, events)


@pytest.mark.parametrize('config_id', ['lookback_rnn', 'attention_rnn'])
def test_labels_decode_as_note_seq_class_index_to_event(config_id):
  """Any labels a model may give (not only those of real melodies) decode
  to note-seq's events, each read after the events before it."""
  rng = np.random.default_rng(7)
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  for length in [1, 20, 200]:
    primer = note_seq.Melody([60, -2, 62, -1])
    labels = rng.integers(0, ours.num_classes, length)
    # Long chains of repeats, resolved through earlier repeats.
    labels[rng.random(length) < 0.5] = ours.num_classes - 1
    events = note_seq.Melody(list(primer))
    for label in labels:
      events.append(reference.class_index_to_event(int(label), events))
    got = ours.ids_from_labels(labels, primer=ours.event_ids(primer))
    np.testing.assert_array_equal(got, ours.event_ids(events)[len(primer):])
  with pytest.raises(ValueError):
    ours.ids_from_labels([ours.num_classes])


def test_squash_equals_note_seq():
  rng = random.Random(3)
  for _ in range(60):
    # As a Melody holds them (no NOTE_OFF before the first note).
    events = list(note_seq.Melody(random_melody(
        rng, 40, rng.randrange(0, 60), rng.randrange(61, 128))))
    for key in [None] + list(range(12)):
      for low, high in [(48, 84), (0, 128), (60, 72), (30, 50)]:
        expected = note_seq.Melody(list(events))
        amount = expected.squash(low, high, key)
        ours, our_amount = melody.squash(events, low, high, key)
        assert (ours.tolist(), our_amount) == (list(expected), amount)
  # No notes: note-seq gives 0 without transposing.
  assert melody.squash([-2, -1, -2], 48, 84, 5)[1] == 0


def test_melody_encode_is_note_seq_reading_and_squash():
  """encode: every non-drum note read as one melody (no gap ends it), then
  squashed; decode: note-seq's Melody.to_sequence."""
  for path in FIXTURES[:6]:
    for piece in pieces(path):
      merged = music_pb2.NoteSequence()
      merged.CopyFrom(piece)
      del merged.notes[:]
      merged.notes.extend(n for n in piece.notes if not n.is_drum)
      for note in merged.notes:
        note.instrument = 0
      quantized = sequences_lib.quantize_note_sequence(merged, 4)
      expected = note_seq.Melody()
      expected.from_quantized_sequence(quantized, gap_bars=10 ** 9,
                                       ignore_polyphonic_notes=True)
      for config_id in MELODY_CONFIGS:
        ours = encodings.magenta_codec(config_id)
        events = squashed(expected, config_id)
        ids, amount = ours.encode_with_transposition(piece)
        np.testing.assert_array_equal(ids, ours.event_ids(events))
        np.testing.assert_array_equal(ours.encode(piece), ids)
        decoded = ours.decode(ids, transposition=amount)
        events.transpose(-amount)
        assert decoded == events.to_sequence(qpm=120.0)


def test_melody_round_trip():
  ours = melody.MelodyCodec(melody.MelodySettings(transpose_to_key=None))
  rng = random.Random(5)
  for _ in range(20):
    # Ids say more than notes do (a NOTE_OFF in silence, a repeated one):
    # the notes survive the round trip, and notes' ids are a fixed point.
    events = [60] + random_melody(rng, 60, 48, 84) + [70]
    sequence = ours.decode(ours.event_ids(note_seq.Melody(events)))
    ids = ours.encode(sequence)
    assert ours.decode(ids) == sequence
    np.testing.assert_array_equal(ours.encode(ours.decode(ids)), ids)
  assert ours.encode(music_pb2.NoteSequence()).size == 0


def test_melody_refusals():
  ours = encodings.magenta_codec('basic_rnn')
  with pytest.raises(codec_lib.EncodingError) as e:
    ours.event_ids([60, -2, 84])
  assert e.value.reason == melody.REASON_PITCH_OUT_OF_RANGE
  with pytest.raises(codec_lib.EncodingError) as e:
    ours.event_ids([60, -3])
  assert e.value.reason == melody.REASON_INVALID_EVENT
  seven_eight = testing_lib.make_sequence([60, 62])
  seven_eight.time_signatures.add(time=0.0, numerator=7, denominator=8)
  coarse = melody.MelodyCodec(melody.MelodySettings(steps_per_quarter=1))
  with pytest.raises(codec_lib.EncodingError) as e:
    coarse.encode(seven_eight)
  assert e.value.reason == quantize.REASON_NON_INTEGER_STEPS_PER_BAR
  two_tempos = testing_lib.make_sequence([60, 62])
  two_tempos.tempos.add(time=0.5, qpm=90)
  with pytest.raises(codec_lib.EncodingError) as e:
    ours.encode(two_tempos)
  assert e.value.reason == quantize.REASON_MULTIPLE_TEMPOS
  with pytest.raises(ValueError):
    ours.inputs([0, 38])


# ------------------------------------------------------------------- drums


def assert_drum_tracks_equal_note_seq(piece, steps_per_quarter=4, **kwargs):
  quantized = sequences_lib.quantize_note_sequence(piece, steps_per_quarter)
  notes = quantize.quantize_sequence(piece, steps_per_quarter)
  found = []
  for start, expected in reference_drum_tracks(quantized, **kwargs):
    ours = drums.extract_drum_track(notes, search_start_step=start, **kwargs)
    assert ours.events() == list(expected)
    if expected:
      assert (ours.start_step, ours.end_step) == (expected.start_step,
                                                  expected.end_step)
      found.append(expected)
  return found


@functools.lru_cache(maxsize=None)
def fixture_drum_tracks(steps_per_quarter):
  found = []
  for path in FIXTURES:
    for piece in pieces(path):
      for kwargs in (dict(gap_bars=1, pad_end=True), dict(gap_bars=0.5),
                     dict(gap_bars=2, ignore_is_drum=True)):
        found += assert_drum_tracks_equal_note_seq(piece, steps_per_quarter,
                                                   **kwargs)
  return found


@pytest.mark.parametrize('config_id', DRUM_CONFIGS)
def test_drum_encoders_equal_note_seq_on_fixtures(config_id):
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  for track in fixture_drum_tracks(ours.settings.steps_per_quarter):
    assert_encoder_equals_note_seq(ours, reference, track)
    # Decoding strikes the first pitch of each type, as decode_event.
    ids = ours.event_ids(track)
    decoded = ours.drum_track(ids)
    assert list(decoded) == [reference._one_hot_encoding.decode_event(i)
                             for i in ids]


def test_drum_encoders_equal_note_seq_on_random_tracks():
  rng = random.Random(11)
  for config_id in DRUM_CONFIGS:
    ours = encodings.magenta_codec(config_id)
    reference = reference_encoder_decoder(config_id)
    for length in [0, 1, 7, 64, 200]:
      track = note_seq.DrumTrack([
          frozenset(rng.sample(range(20, 100), rng.choice((0, 0, 1, 2, 4))))
          for _ in range(length)])
      assert_encoder_equals_note_seq(ours, reference, track)


def test_drum_encode_decode():
  ours = encodings.magenta_codec('drum_kit')
  reference = note_seq.MultiDrumOneHotEncoding()
  for path in testing_lib.testdata('pop', 'mr_blue_sky.mid'), testing_lib.testdata(
      'pop', 'd8faddb8.mid'):
    for piece in pieces(path):
      quantized = sequences_lib.quantize_note_sequence(piece, 4)
      expected = note_seq.DrumTrack()
      expected.from_quantized_sequence(quantized, gap_bars=10 ** 9)
      ids = ours.encode(piece)
      assert len(ids) > 100
      np.testing.assert_array_equal(
          ids, [reference.encode_event(e) for e in expected])
      decoded = ours.decode(ids)
      assert decoded == ours.drum_track(ids).to_sequence(qpm=120.0)
      assert all(n.is_drum and n.instrument == 9 for n in decoded.notes)
      np.testing.assert_array_equal(ours.encode(decoded), ids)


def test_unknown_drums():
  strict = drums.DrumsCodec(drums.DrumsSettings(ignore_unknown_drums=False))
  loose = encodings.magenta_codec('drum_kit')
  events = [frozenset([36, 21]), frozenset(), frozenset([42])]
  with pytest.raises(drums_encoder_decoder.DrumsEncodingError):
    note_seq.MultiDrumOneHotEncoding(ignore_unknown_drums=False).encode_event(
        events[0])
  with pytest.raises(codec_lib.EncodingError) as e:
    strict.event_ids(events)
  assert e.value.reason == drums.REASON_UNKNOWN_DRUM
  np.testing.assert_array_equal(loose.event_ids(events), [1, 0, 4])
  # A pitch listed under two types belongs to the last, as in note-seq.
  twice = [[36, 38], [38]]
  ours = drums.DrumsCodec(drums.DrumsSettings(drum_type_pitches=twice))
  assert ours.event_ids([frozenset([38])])[0] == (
      note_seq.MultiDrumOneHotEncoding(twice).encode_event(frozenset([38])))


# -------------------------------------------------------------- lead sheet


CHORDS = ['N.C.', 'C', 'Am', 'G7', 'F/A', 'Bbmaj7', 'Ebaug', 'F#dim', 'Dm7b5',
          'E7/G#', 'Abm', 'Cm9']


def random_chords(rng, length):
  chords, current = [], rng.choice(CHORDS)
  for _ in range(length):
    if rng.random() < 0.2:
      current = rng.choice(CHORDS)
    chords.append(current)
  return chords


def assert_lead_sheet_equals_note_seq(config_id, events, chords):
  """Inputs and labels of a melody over chords equal note-seq's
  ConditionalEventSequenceEncoderDecoder's."""
  ours = encodings.magenta_codec(config_id)
  reference = reference_encoder_decoder(config_id)
  ids = ours.melody.event_ids(events)
  expected_inputs, expected_labels = reference.encode(chords, events)
  inputs, labels = ours.training_example(ids, chords)
  np.testing.assert_array_equal(inputs.reshape(-1, reference.input_size),
                                np.array(expected_inputs, np.float32).reshape(
                                    -1, reference.input_size))
  np.testing.assert_array_equal(labels, expected_labels)
  longer = list(chords) + ['G']
  np.testing.assert_array_equal(
      ours.inputs(ids, longer),
      np.array(reference.get_inputs_batch([longer], [events],
                                          full_length=True)[0], np.float32))


@pytest.mark.parametrize('config_id', IMPROV_CONFIGS)
def test_lead_sheet_encoders_equal_note_seq_on_random_lead_sheets(config_id):
  rng = random.Random(config_id)
  for length in [1, 2, 17, 40, 120]:
    events = note_seq.Melody(random_melody(rng, length, 48, 84))
    assert_lead_sheet_equals_note_seq(config_id, events,
                                      random_chords(rng, length))


def test_chord_encodings_equal_note_seq():
  for name, reference in [
      (lead_sheet.TRIAD, note_seq.TriadChordOneHotEncoding()),
      (lead_sheet.MAJOR_MINOR, note_seq.MajorMinorChordOneHotEncoding())]:
    ours = lead_sheet.ChordEncoding(name)
    symbols = [reference.decode_event(i) for i in range(reference.num_classes)]
    np.testing.assert_array_equal(ours.ids(symbols),
                                  range(reference.num_classes))
    assert ours.symbols(range(reference.num_classes)) == symbols
  # Not a triad, not read: refused with the reason Magenta counts it by.
  triad = lead_sheet.ChordEncoding(lead_sheet.TRIAD)
  for symbol, reason in [('Csus4', lead_sheet.REASON_CHORD_NOT_ENCODABLE),
                         ('H7', lead_sheet.REASON_BAD_CHORD_SYMBOL)]:
    with pytest.raises(codec_lib.EncodingError) as e:
      triad.inputs(['C', symbol])
    assert e.value.reason == reason
  with pytest.raises(codec_lib.EncodingError) as e:
    lead_sheet.ChordEncoding(lead_sheet.MAJOR_MINOR).ids(['Caug'])
  assert e.value.reason == lead_sheet.REASON_CHORD_NOT_ENCODABLE
  with pytest.raises(ValueError):
    lead_sheet.ChordEncoding(lead_sheet.PITCHES).ids(['C'])


def test_transposed_chords_equal_note_seq():
  for amount in range(-13, 14):
    expected = note_seq.ChordProgression(CHORDS)
    expected.transpose(amount)
    assert lead_sheet.transpose_chords(CHORDS, amount) == list(expected)


def lead_sheet_sequence(pitches, chords):
  """A melody of quarter notes at 120 qpm and chord symbols at given steps
  (4 steps a quarter note): chords is [(step, symbol)]."""
  sequence = testing_lib.make_sequence(pitches)
  for step, symbol in chords:
    sequence.text_annotations.add(
        time=step * 0.125, text=symbol,
        annotation_type=music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  return sequence


def test_chords_align_with_melodies_as_note_seq():
  sequence = lead_sheet_sequence(
      [60, 64, 67, 72, 71, 67, 65, 62] * 3,
      [(0, 'C'), (0, 'C'), (7, 'G7'), (16, 'Am'), (40, 'F'), (200, 'E')])
  quantized = sequences_lib.quantize_note_sequence(sequence, 4)
  notes = quantize.quantize_sequence(sequence, 4)
  for steps in [range(0, 30), range(10, 20), range(90, 110), range(0, 0)]:
    expected = chords_lib.event_list_chords(
        quantized, [types.SimpleNamespace(steps=steps)])[0]
    assert lead_sheet.chords_at_steps(sequence, notes, list(steps)) == expected
  sequence.text_annotations.add(
      time=7 * 0.125, text='Em',
      annotation_type=music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  with pytest.raises(chords_lib.CoincidentChordsError):
    chords_lib.event_list_chords(
        sequences_lib.quantize_note_sequence(sequence, 4),
        [types.SimpleNamespace(steps=range(4))])
  with pytest.raises(codec_lib.EncodingError) as e:
    lead_sheet.chords_at_steps(sequence, notes, range(4))
  assert e.value.reason == lead_sheet.REASON_COINCIDENT_CHORDS


@pytest.mark.parametrize('config_id', IMPROV_CONFIGS)
def test_lead_sheet_encode_decode(config_id):
  ours = encodings.magenta_codec(config_id)
  sequence = lead_sheet_sequence([62, 66, 69, 74, 73, 69, 67, 64] * 2,
                                 [(0, 'D'), (16, 'Bm'), (32, 'G'), (48, 'A7')])
  ids, chords, amount = ours.encode_lead_sheet(sequence)
  assert amount == 0  # Improv RNN keeps the key
  quantized = sequences_lib.quantize_note_sequence(sequence, 4)
  expected = note_seq.Melody()
  expected.from_quantized_sequence(quantized, gap_bars=10 ** 9)
  np.testing.assert_array_equal(ids, ours.melody.event_ids(expected))
  expected_chords = note_seq.ChordProgression(
      chords_lib.event_list_chords(quantized, [expected])[0])
  expected_chords.transpose(0)
  assert chords == list(expected_chords)
  decoded = ours.decode(ids, chords)
  assert decoded == note_seq.LeadSheet(
      expected, expected_chords).to_sequence(qpm=120.0)
  again, again_chords, _ = ours.encode_lead_sheet(decoded)
  np.testing.assert_array_equal(again, ids)
  assert again_chords == chords
  np.testing.assert_array_equal(ours.encode(sequence), ids)
  assert_lead_sheet_equals_note_seq(config_id, expected, chords)


# ------------------------------------------------- the development corpora


def nottingham_files():
  paths = sorted(glob.glob(os.path.join(testing_lib.SHARED_DATA, 'nottingham',
                                        'MIDI', '*.mid')))
  assert len(paths) == 1034
  return paths[::NOTTINGHAM_STRIDE]


@testing_lib.requires_shared_data
def test_melodies_equal_note_seq_on_nottingham():
  """Every melody of every instrument of the Nottingham tunes (one in
  NOTTINGHAM_STRIDE unless MUSICRNN_EVERY_TRACK=1), read as Magenta's
  melody pipeline reads them (split at time changes, 4 steps a quarter
  note, gap 1 bar, no padding; the highest of notes starting together, and
  the refusal of those tracks without it): melody events, and for each
  Melody RNN config the squash, ids, inputs, labels and label decoding."""
  codecs = {name: encodings.magenta_codec(name) for name in MELODY_CONFIGS}
  references = {name: reference_encoder_decoder(name) for name in MELODY_CONFIGS}
  melodies = 0
  for path in nottingham_files():
    for piece in pieces(path):
      assert_melodies_equal_note_seq(piece, gap_bars=1,
                                     ignore_polyphonic_notes=False)
      for found in assert_melodies_equal_note_seq(
          piece, gap_bars=1, ignore_polyphonic_notes=True):
        melodies += 1
        for name in MELODY_CONFIGS:
          assert_encoder_equals_note_seq(codecs[name], references[name],
                                         squashed(found, name))
  print(f'{melodies} Nottingham melodies equal note-seq\'s in '
        f'{len(MELODY_CONFIGS)} encodings')
  assert melodies >= (2000 if EVERY_TRACK else 50)


@testing_lib.requires_shared_data
def test_lead_sheets_equal_note_seq_on_nottingham():
  """Nottingham melodies over the chords note-seq infers for the tunes (one
  tune in 12 of those the melody test reads: chord inference is slow; 87
  tunes with MUSICRNN_EVERY_TRACK=1): chord alignment and transposition,
  and each Improv RNN config's inputs and labels."""
  lead_sheets = 0
  for path in nottingham_files()[::12]:
    for piece in pieces(path):
      # Chords inferred on the quantized tune, kept in seconds as a
      # pipeline would store them, then read again by both.
      inferred = sequences_lib.quantize_note_sequence(piece, 4)
      try:
        chord_inference.infer_chords_for_sequence(inferred)
      except chord_inference.ChordInferenceError:
        continue  # e.g. 9/8, which note-seq has no chords per bar for
      piece.text_annotations.extend(inferred.text_annotations)
      quantized = sequences_lib.quantize_note_sequence(piece, 4)
      notes = quantize.quantize_sequence(piece, 4)
      for found in assert_melodies_equal_note_seq(
          piece, gap_bars=1, ignore_polyphonic_notes=True):
        chords = chords_lib.event_list_chords(quantized, [found])[0]
        assert lead_sheet.chords_at_steps(
            piece, notes, range(found.start_step, found.end_step)) == chords
        lead_sheets += 1
        for name in IMPROV_CONFIGS:
          expected = note_seq.LeadSheet(note_seq.Melody(list(found)),
                                        note_seq.ChordProgression(chords))
          key, low, high = MAGENTA_RANGES[name]
          amount = expected.squash(low, high, key)
          assert lead_sheet.transpose_chords(chords, amount) == list(
              expected.chords)
          assert_lead_sheet_equals_note_seq(name, squashed(found, name),
                                            list(expected.chords))
  print(f'{lead_sheets} Nottingham lead sheets equal note-seq\'s in '
        f'{len(IMPROV_CONFIGS)} encodings')
  assert lead_sheets >= 3


@testing_lib.requires_shared_data
def test_drum_tracks_equal_note_seq_on_groove_validation():
  """Every drum track of every Groove validation file, read as Magenta's
  drums pipeline reads them (split at time changes, gap 1 bar, no padding),
  at each Drums RNN config's grid: tracks, ids, inputs, labels, decoding."""
  root = os.path.join(testing_lib.SHARED_DATA, 'groove')
  with open(os.path.join(root, 'info.csv')) as f:
    paths = [os.path.join(root, row['midi_filename'])
             for row in csv.DictReader(f) if row['split'] == 'validation']
  assert len(paths) == 124
  tracks = 0
  for config_id in DRUM_CONFIGS:
    ours = encodings.magenta_codec(config_id)
    reference = reference_encoder_decoder(config_id)
    for path in paths:
      for piece in pieces(path):
        for track in assert_drum_tracks_equal_note_seq(
            piece, ours.settings.steps_per_quarter, gap_bars=1):
          tracks += 1
          assert_encoder_equals_note_seq(ours, reference, track)
  print(f'{tracks} Groove validation drum tracks equal note-seq\'s')
  assert tracks >= 200
