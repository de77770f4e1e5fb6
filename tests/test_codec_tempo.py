"""A codec's tempo and metric grid (`Codec.timing`, `tempo_settings`,
`with_qpm`, `steps_per_bar`): the settings that hold the tempo `decode`
writes, nested ones too (a lead sheet's melody), a codec of another tempo,
and the steps of a bar; encodings of seconds have neither."""

import collections

from note_seq.protobuf import music_pb2
import numpy as np
import pytest

from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import drums
from musicrnn.encodings import lead_sheet
from musicrnn.encodings import melody
from musicrnn.encodings import note_tuple
from musicrnn.encodings import performance
from musicrnn.encodings import pianoroll
from musicrnn.encodings import polyphony

# The codecs that keep time in seconds, with no tempo.
SECONDS = {'performance'}
# The codecs with a tempo but no metric grid.
TEMPO_ONLY = {'note_tuple'}


def _small_sequence(qpm=120.0):
  """Four bars of 4/4 at `qpm` (a piano roll's segment): a scale of eighth
  notes, and a drum struck with each (hi-hat and kick in turn)."""
  sequence = music_pb2.NoteSequence()
  sequence.tempos.add(qpm=qpm)
  sequence.time_signatures.add(numerator=4, denominator=4)
  eighth = 30.0 / qpm
  for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 4):
    start = i * eighth
    sequence.notes.add(pitch=pitch, velocity=80, start_time=start,
                       end_time=start + eighth)
    sequence.notes.add(pitch=36 if i % 2 else 42, velocity=80,
                       start_time=start, end_time=start + eighth / 2,
                       is_drum=True, instrument=9)
  sequence.total_time = 32 * eighth
  return sequence


def _default_codec(name):
  """The codec registered as `name` with its default settings, with the
  settings it learns (a chord vocabulary) counted from `_small_sequence`."""
  codec = codec_lib.codec_class(name)()
  if codec.needs_counts:
    codec = codec.with_counts(
        collections.Counter(codec.vocabulary_items(_small_sequence())))
  return codec


def _starts(sequence):
  return sorted((note.start_time, note.pitch) for note in sequence.notes)


@pytest.mark.parametrize('name', codec_lib.codec_names())
def test_every_codec_answers_its_tempo_and_bar(name):
  """Every registered codec: no tempo exactly for an encoding of seconds;
  `with_qpm` a codec of the same class that decodes the same ids at that
  tempo (times scaled by it); 16 steps a 4/4 bar of the 4-steps-a-quarter
  metric codecs."""
  codec = _default_codec(name)
  assert codec.timing in (codec_lib.TIMING_SECONDS, codec_lib.TIMING_TEMPO,
                          codec_lib.TIMING_METRIC)
  if name in SECONDS:
    assert codec.timing == codec_lib.TIMING_SECONDS
    assert codec.tempo_settings() is None and codec.steps_per_bar() is None
    assert codec.seconds_per_step() is None
    with pytest.raises(ValueError, match='holds no tempo'):
      codec.with_qpm(90.0)
    return
  assert codec.tempo_settings().qpm == 120.0
  if name in TEMPO_ONLY:
    assert codec.timing == codec_lib.TIMING_TEMPO
    assert codec.steps_per_bar() is None and codec.seconds_per_step() is None
  else:
    assert codec.timing == codec_lib.TIMING_METRIC
    assert codec.tempo_settings().steps_per_quarter == 4
    assert codec.steps_per_bar() == 16
    assert codec.seconds_per_step() == pytest.approx(0.125)
    assert codec.with_qpm(60.0).seconds_per_step() == pytest.approx(0.25)
  slow = codec.with_qpm(90.0)
  assert type(slow) is type(codec) and slow != codec
  assert slow.tempo_settings().qpm == 90.0
  assert codec.tempo_settings().qpm == 120.0
  assert slow.steps_per_bar() == codec.steps_per_bar()
  assert slow.with_qpm(120.0) == codec
  ids = codec.encode(_small_sequence())
  np.testing.assert_array_equal(slow.encode(_small_sequence(90.0)), ids)
  fast, decoded = codec.decode(ids), slow.decode(ids)
  assert [tempo.qpm for tempo in decoded.tempos] == [90.0]
  assert decoded.notes
  np.testing.assert_allclose(
      _starts(decoded), [(start * 120 / 90, pitch)
                         for start, pitch in _starts(fast)])
  for qpm in (0.0, -90.0):
    with pytest.raises(ValueError, match='qpm must be > 0'):
      codec.with_qpm(qpm)


def test_a_lead_sheets_tempo_and_bar_are_its_melodys():
  lead = lead_sheet.LeadSheetCodec(lead_sheet.MAGENTA_CONFIGS[
      'chord_pitches_improv'])
  assert lead.tempo_settings() is lead.settings.melody
  slow = lead.with_qpm(90.0)
  assert slow.settings.melody.qpm == 90 and lead.settings.melody.qpm == 120
  assert slow.settings == lead_sheet.LeadSheetSettings(
      chord_encoding=lead_sheet.PITCHES,
      melody=melody.MelodySettings(transpose_to_key=None, qpm=90.0))
  assert slow.melody == melody.MelodyCodec(slow.settings.melody)
  assert lead.steps_per_bar() == 16
  coarse = lead_sheet.LeadSheetCodec(lead_sheet.LeadSheetSettings(
      melody=melody.MelodySettings(steps_per_quarter=2)))
  assert coarse.steps_per_bar() == 8
  assert coarse.seconds_per_step() == pytest.approx(0.25)


def test_tempo_and_bar_of_codec_settings():
  """Each codec's bar from its own settings; its tempo replaced alone."""
  assert drums.DrumsCodec().with_qpm(100.0).settings == drums.DrumsSettings(
      qpm=100.0)
  one_drum = drums.DrumsCodec(drums.MAGENTA_CONFIGS['one_drum'])
  assert one_drum.steps_per_bar() == 8
  assert polyphony.PolyphonyCodec(polyphony.PolyphonySettings(
      steps_per_quarter=3)).steps_per_bar() == 12
  waltz = pianoroll.PianorollCodec(pianoroll.PianorollSettings(
      quarters_per_bar=3, require_4_4=False))
  assert waltz.steps_per_bar() == 12
  assert waltz.with_qpm(90.0).steps_per_bar() == 12
  assert performance.PerformanceCodec().steps_per_bar() is None
  assert note_tuple.NoteTupleCodec().steps_per_bar() is None
  tuples = note_tuple.NoteTupleCodec().with_vocabulary({(60,): 1})
  assert tuples.with_qpm(90.0).settings.chord_vocabulary == ((60,),)
