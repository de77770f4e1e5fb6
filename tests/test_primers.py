"""Primers of Magenta's generate flags (--primer_melody, --primer_drums,
--qpm, --backing_chords), the codecs' empty primers, and lengths in bars:
what they encode to, and every mistake as a UsageError."""

import note_seq
import numpy as np
import pytest

from musicrnn.encodings import drums
from musicrnn.encodings import lead_sheet
from musicrnn.encodings import melody
from musicrnn.encodings import performance
from musicrnn.encodings import polyphony
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import primers

MELODY = [60, -2, 60, -2, 67, -2, 67, -2, 69, -2, 69, -2, 67, -2, -2, -1, 65]
# Pitches each drum type strikes when decoded (the first of its type), so
# the round trip through ids gives them back.
DRUMS = [(36,), (), (42,), (36, 42), (38, 42), (), (46,), (36, 38, 42, 46)]


@pytest.mark.parametrize('config_id', sorted(melody.MAGENTA_CONFIGS))
def test_melody_primer_is_note_seqs_melody(config_id):
  """--primer_melody: note-seq's Melody(events).to_sequence(qpm), encoded
  by MelodyCodec, is note-seq's melody event for event (at any qpm)."""
  codec = melody.MelodyCodec(melody.MAGENTA_CONFIGS[config_id])
  for qpm in (None, 90.0):
    ids = primers.primer_events(
        codec, primer_melody=primers.parse_melody(str(MELODY)), qpm=qpm)
    expected = note_seq.Melody(MELODY)
    np.testing.assert_array_equal(ids, codec.event_ids(expected))
    assert list(codec.melody(ids)) == list(expected)


def test_melody_primer_sequence_and_tempo():
  sequence = primers.melody_sequence([60, -2, 67, -1], qpm=90)
  assert sequence == note_seq.Melody([60, -2, 67, -1]).to_sequence(qpm=90.0)
  assert sequence.tempos[0].qpm == 90
  # Two 16th-note steps at 90 qpm.
  assert [(n.pitch, n.end_time) for n in sequence.notes] == [
      (60, pytest.approx(1 / 3)), (67, pytest.approx(0.5))]
  # The default tempo is Magenta's, 120; so is a chord's quarter note.
  assert primers.melody_sequence([60]).tempos[0].qpm == 120
  codec = performance.PerformanceCodec()
  slow = codec.decode(primers.primer_events(codec, primer_pitches=[60, 64],
                                            qpm=60))
  fast = codec.decode(primers.primer_events(codec, primer_pitches=[60, 64]))
  assert slow.total_time == pytest.approx(1.0)
  assert fast.total_time == pytest.approx(0.5)


def test_melody_primer_primes_other_encodings():
  """A melody is notes: an encoding of notes decides how to read it."""
  sequence = primers.melody_sequence(MELODY)
  for codec in (performance.PerformanceCodec(), polyphony.PolyphonyCodec()):
    ids = primers.primer_events(codec, primer_melody=MELODY)
    decoded = codec.decode(ids)
    assert [(n.pitch, round(n.start_time, 3)) for n in decoded.notes] == [
        (n.pitch, round(n.start_time, 3)) for n in sequence.notes]
  # A melody of rests has no notes to prime with.
  with pytest.raises(UsageError, match='the primer has no notes'):
    primers.primer_events(melody.MelodyCodec(), primer_melody=[-2, -1, -2])


def test_a_primer_the_codec_refuses_is_a_usage_error():
  """The codec's EncodingError becomes a UsageError, as for a MIDI primer."""
  strict = drums.DrumsCodec(drums.DrumsSettings(ignore_unknown_drums=False))
  with pytest.raises(UsageError, match='the primer cannot be encoded with '
                     'drums: drum pitch 20 is of no drum type'):
    primers.primer_events(strict, primer_drums=[(36,), (20,)])


@pytest.mark.parametrize('config_id', sorted(drums.MAGENTA_CONFIGS))
def test_drums_primer_is_note_seqs_drum_track(config_id):
  """--primer_drums: note-seq's DrumTrack(steps).to_sequence(qpm), encoded
  by DrumsCodec, is the ids of note-seq's drum track, step for step."""
  codec = drums.DrumsCodec(drums.MAGENTA_CONFIGS[config_id])
  steps = primers.parse_drums(str(DRUMS))
  assert steps == [frozenset(step) for step in DRUMS]
  track = note_seq.DrumTrack(steps)
  if codec.settings.steps_per_quarter != 4:
    # one_drum's grid is 8th notes; note-seq's DrumTrack writes 16ths.
    return
  for qpm in (None, 100.0):
    ids = primers.primer_events(codec, primer_drums=steps, qpm=qpm)
    np.testing.assert_array_equal(ids, codec.event_ids(track))
  if config_id == 'drum_kit':
    assert list(codec.drum_track(ids)) == list(track)
  sequence = primers.drums_sequence(DRUMS, qpm=100)
  assert sequence == track.to_sequence(qpm=100.0)
  assert all(note.is_drum for note in sequence.notes)


def test_drums_prime_only_encodings_of_drums():
  for codec in (performance.PerformanceCodec(), polyphony.PolyphonyCodec(),
                melody.MelodyCodec()):
    with pytest.raises(UsageError, match=r'--primer_drums primes an encoding '
                       rf'of drum notes.*the {codec.name} encoding leaves '
                       'drums out'):
      primers.primer_events(codec, primer_drums=[(36,), (38,)])


def test_empty_primers_are_magentas_defaults():
  """Without a primer, melody_rnn_generate and improv_rnn_generate prime
  with Melody([60]) and drums_rnn_generate with DrumTrack([{36}]): the
  codecs' empty primers are those, encoded (fixed, never random)."""
  middle_c = note_seq.Melody([60]).to_sequence()
  kick = note_seq.DrumTrack([frozenset([36])]).to_sequence()
  for settings in melody.MAGENTA_CONFIGS.values():
    codec = melody.MelodyCodec(settings)
    np.testing.assert_array_equal(codec.empty_primer(), codec.encode(middle_c))
    np.testing.assert_array_equal(primers.primer_events(codec),
                                  codec.empty_primer())
  for settings in lead_sheet.MAGENTA_CONFIGS.values():
    codec = lead_sheet.LeadSheetCodec(settings)
    np.testing.assert_array_equal(codec.empty_primer(), codec.encode(middle_c))
  for settings in drums.MAGENTA_CONFIGS.values():
    codec = drums.DrumsCodec(settings)
    np.testing.assert_array_equal(codec.empty_primer(), codec.encode(kick))
  # A range without middle C folds it in by octaves, as a primer is folded.
  high = melody.MelodyCodec(melody.MelodySettings(min_note=72, max_note=96))
  assert list(high.melody(high.empty_primer())) == [72]
  # Drum types without a bass drum strike the first type.
  no_kick = drums.DrumsCodec(drums.DrumsSettings(
      drum_type_pitches=((38,), (42,))))
  assert list(no_kick.empty_primer()) == [1]


@pytest.mark.parametrize('text, message', [
    ('[60, -2', 'is not a Python literal'),
    ('__import__("os").getcwd()', 'is not a Python literal'),
    ('60', 'is not a non-empty list'),
    ('[]', 'is not a non-empty list'),
    ('{60: -2}', 'is not a non-empty list'),
    ('[60, 128]', 'pitch 128 is outside 0..127'),
    ('[60, -3]', 'event -3 is below -2'),
    ('[60, 61.5]', 'event 61.5 is not an integer'),
    ('[60, True]', 'event True is not an integer'),
    ('[60, "C4"]', "event 'C4' is not an integer"),
])
def test_primer_melody_mistakes(text, message):
  with pytest.raises(UsageError, match=r'--primer_melody.*' + message):
    primers.parse_melody(text)


@pytest.mark.parametrize('text, message', [
    ('[(36,), (42,)', 'is not a Python literal'),
    ('[(36,), open("x")]', 'is not a Python literal'),
    ('(36,)', r'step 0, 36, is not a tuple of drum pitches \(write \(36,\)'),
    ('[]', 'is not a non-empty list'),
    ('36', 'is not a non-empty list'),
    ('[(36), (42)]', r'step 0, 36, .*write \(36,\) for one drum'),
    ('[(36,), "42"]', "step 1, '42', is not a tuple"),
    ('[(36,), (42.0,)]', r'step 1, \(42.0,\), is not a tuple'),
    ('[(36,), (True,)]', r'step 1, \(True,\), is not a tuple'),
    ('[(36,), (200,)]', r'pitch 200 \(step 1\) is outside 0..127'),
    ('[(-1,)]', r'pitch -1 \(step 0\) is outside 0..127'),
])
def test_primer_drums_mistakes(text, message):
  with pytest.raises(UsageError, match=r'--primer_drums.*' + message):
    primers.parse_drums(text)


def test_flags_left_empty_give_no_primer():
  assert primers.parse_melody(None) is None and primers.parse_melody('') is None
  assert primers.parse_drums(None) is None and primers.parse_drums('') is None
  # Lists as well as tuples, and sets, are steps; a melody may be a tuple.
  assert primers.parse_drums('[[36, 42], {38}]') == [frozenset({36, 42}),
                                                     frozenset({38})]
  assert primers.parse_melody('(60, -2)') == [60, -2]


def test_one_primer_at_most_naming_every_primer_flag():
  codec = melody.MelodyCodec()
  with pytest.raises(UsageError) as error:
    primers.primer_events(codec, primer_pitches=[60], primer_melody=[60],
                          primer_drums=[(36,)])
  message = str(error.value)
  assert message.startswith('--primer_pitches and --primer_melody and '
                            '--primer_drums: give one primer at most')
  for name in primers.PRIMER_FLAGS:
    assert f'--{name}' in message


def test_qpm_mistakes():
  codec = melody.MelodyCodec()
  for qpm in (0, -60):
    with pytest.raises(UsageError, match=r'--qpm must be > 0'):
      primers.primer_events(codec, primer_melody=[60], qpm=qpm)
  # Without a primer it must have an output tempo to set.
  with pytest.raises(UsageError, match=r'--qpm=90 sets the tempo of '
                     '--primer_pitches.*the performance encoding keeps time '
                     'in seconds'):
    primers.primer_events(performance.PerformanceCodec(), qpm=90)
  np.testing.assert_array_equal(primers.primer_events(codec, qpm=90),
                                codec.empty_primer())


def test_backing_chords():
  """improv_rnn_generate's --backing_chords and --steps_per_chord."""
  assert primers.backing_chords('C G Am F', 2) == [
      'C', 'C', 'G', 'G', 'Am', 'Am', 'F', 'F']
  chords = primers.backing_chords(' C7  N.C.\tF#m7b5 Bb/D ', 16)
  assert len(chords) == 64 and chords[16] == note_seq.NO_CHORD
  assert chords[::16] == ['C7', 'N.C.', 'F#m7b5', 'Bb/D']
  with pytest.raises(UsageError, match=r"--backing_chords: 'H7' is not a "
                     'chord symbol note-seq reads'):
    primers.backing_chords('C H7 F', 16)
  for text in ('', '   ', None):
    with pytest.raises(UsageError, match='--backing_chords has no chord'):
      primers.backing_chords(text, 16)
  for steps in (0, -4, 2.5, True):
    with pytest.raises(UsageError, match='--steps_per_chord must be an '
                       'integer >= 1'):
      primers.backing_chords('C', steps)


def _cycling_draw(pattern):
  """A `draw` that continues every row with `pattern` repeated."""
  def draw(tokens, steps, seed):
    del seed
    new = np.resize(np.asarray(pattern, np.int32), steps)
    return np.concatenate([tokens, np.tile(new, (len(tokens), 1))], axis=1)
  return draw


@pytest.mark.parametrize('num_bars', [1, 3])
def test_num_bars_give_bars_of_steps(num_bars):
  """--num_bars on a metric codec: bars x steps a bar more steps than the
  primer; one id a step (melody) or several (polyphony)."""
  codec = melody.MelodyCodec()
  primer = primers.primer_events(codec, primer_melody=[60, -2, 64, -2])
  steps = outputs.bar_steps(codec, num_bars)
  assert steps == num_bars * 16
  (sequence,) = outputs.draw_tokens(
      codec, _cycling_draw([melody.NUM_SPECIAL + 19, melody.NO_EVENT_ID]),
      primer, num_outputs=1, num_steps=None, duration_seconds=None, seed=1,
      primer_seconds=0.5, metric_steps=steps)
  # 16th notes at 120 qpm: 0.125 s a step.
  assert sequence.total_time == pytest.approx((4 + steps) * 0.125)
  codec = polyphony.PolyphonyCodec()
  primer = primers.primer_events(codec, primer_melody=[60, -2, 64, -2])
  new_60 = int(codec.new_note_id(60))
  # Two tokens a step: a note, then STEP_END.
  (sequence,) = outputs.draw_tokens(
      codec, _cycling_draw([new_60, polyphony.STEP_END]), primer,
      num_outputs=1, num_steps=None, duration_seconds=None, seed=1,
      primer_seconds=0.5, metric_steps=outputs.bar_steps(codec, num_bars))
  assert sequence.total_time == pytest.approx((4 + num_bars * 16) * 0.125)
  assert len(sequence.notes) == 2 + num_bars * 16


def test_num_bars_mistakes():
  with pytest.raises(UsageError, match='--num_bars counts bars of a metric '
                     'encoding.*the performance encoding has none'):
    outputs.bar_steps(performance.PerformanceCodec(), 2)
  with pytest.raises(UsageError, match='--num_bars must be at least 1'):
    outputs.bar_steps(melody.MelodyCodec(), 0)
  with pytest.raises(UsageError, match='give one of --num_steps, '
                     '--duration_seconds and --num_bars, not --num_steps with '
                     '--num_bars'):
    outputs.check_steps(100, None, 2)
  with pytest.raises(UsageError, match='not --duration_seconds with --num_bars'):
    outputs.check_steps(None, 3.0, 2)
  outputs.check_steps(None, None, 2)
