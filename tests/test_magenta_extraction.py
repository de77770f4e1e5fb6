"""Data as Magenta extracts it (Melody, Drums and Improv RNN), on the one
dataset pipeline.

Reference: Magenta's pipelines (magenta/pipelines/melody_pipelines.py,
drum_pipelines.py, lead_sheet_pipelines.py, chord_pipelines.py and the
models' *_pipeline.py), walked here with note-seq's own objects: sequences
split at time changes and quantized at 4 steps a quarter; every melody of
every instrument (`Melody.from_quantized_sequence`, min 7 bars, cut to 512
steps, min unique pitch classes, gap 1 bar, a polyphonic instrument left);
every drum track (`DrumTrack.from_quantized_sequence`); lead sheets (the
melodies over `ChordProgression.from_quantized_sequence`, or chords from
`infer_chords_for_sequence` where the sequence has none, all twelve keys,
`LeadSheet.squash`); ids by note-seq's one-hot encodings. The pipeline's
examples, written by Beam and read back, equal them; stats.json counts
every track and sequence left out with its reason.
"""

import collections
import copy
import glob
import json
import os
import warnings

import ml_collections
import note_seq
from note_seq import chord_inference
from note_seq import chords_lib
from note_seq import melodies_lib
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn.configs import base
from musicrnn.encodings import codec as codec_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import dataset
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources
import testing_lib

STEPS_PER_QUARTER = 4
MELODY = dict(min_bars=7, max_steps=512, min_unique_pitches=5, gap_bars=1.0)
IMPROV = dict(MELODY, min_unique_pitches=3)
FIXTURES = sorted(glob.glob(testing_lib.testdata('pop', '*.mid'))
                  + [testing_lib.testdata('midi', 'chpn-p10.mid'),
                     testing_lib.testdata('midi', 'karaoke.kar')])


def make_config(name, extraction, **settings):
  """A data-only config of a Magenta codec (no model: the pipeline reads
  only `encoding` and `data`)."""
  config = base.make_config('event_lstm', base.encoding(name, **settings),
                            ml_collections.ConfigDict({}),
                            data=base.extraction_data(**extraction))
  config.name = f'{name}_extraction_test'
  return config


CONFIGS = {
    'lookback_rnn': lambda: make_config('melody', MELODY, encoder='lookback'),
    'drum_kit': lambda: make_config('drums', {}),
    'basic_improv': lambda: make_config('lead_sheet', IMPROV),
}


# ------------------------------------------------------------- the reference


def quantized_pieces(sequence):
  """note-seq's quantized pieces of a sequence (None where quantizing
  fails), as Magenta's TimeChangeSplitter and Quantizer give them."""
  for piece in sequences_lib.split_note_sequence_on_time_changes(sequence):
    try:
      yield sequences_lib.quantize_note_sequence(piece, STEPS_PER_QUARTER)
    except (sequences_lib.QuantizationStatusError,
            sequences_lib.MultipleTimeSignatureError,
            sequences_lib.MultipleTempoError,
            sequences_lib.BadTimeSignatureError,
            sequences_lib.NegativeTimeError):
      yield None


def magenta_melodies(quantized, min_bars, max_steps, min_unique_pitches,
                     gap_bars, ignore_polyphonic_notes=False, pad_end=False):
  """Magenta's extract_melodies (by default ignore_polyphonic_notes=False,
  as the Melody RNN pipelines call it)."""
  bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
  found = []
  for instrument in sorted({n.instrument for n in quantized.notes}):
    start = 0
    while True:
      melody = note_seq.Melody()
      try:
        melody.from_quantized_sequence(
            quantized, instrument=instrument, search_start_step=start,
            gap_bars=gap_bars, ignore_polyphonic_notes=ignore_polyphonic_notes,
            pad_end=pad_end)
      except melodies_lib.PolyphonicMelodyError:
        break
      start = melody.end_step + (-melody.end_step) % bar
      if not melody:
        break
      if len(melody) < melody.steps_per_bar * min_bars:
        continue
      if len(melody) > max_steps:
        melody.set_length(max_steps)
      if (melody.get_note_histogram() > 0).sum() < min_unique_pitches:
        continue
      found.append(melody)
  return found


def magenta_drum_tracks(quantized, min_bars=7, max_steps=512, gap_bars=1.0,
                        pad_end=False):
  """Magenta's extract_drum_tracks."""
  bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
  found, start = [], 0
  while True:
    track = note_seq.DrumTrack()
    track.from_quantized_sequence(quantized, search_start_step=start,
                                  gap_bars=gap_bars, pad_end=pad_end)
    start = track.end_step + (-track.end_step) % bar
    if not track:
      break
    if len(track) < track.steps_per_bar * min_bars:
      continue
    if len(track) > max_steps:
      track.set_length(max_steps)
    found.append(track)
  return found


def magenta_lead_sheets(quantized):
  """Magenta's extract_lead_sheet_fragments (require_chords,
  all_transpositions) then the Improv RNN encoder's squash and chord
  check, with chords inferred where the piece has none."""
  melodies = magenta_melodies(quantized, **IMPROV)
  if melodies and not any(
      a.annotation_type == music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL
      for a in quantized.text_annotations):
    try:
      chord_inference.infer_chords_for_sequence(quantized)
    except chord_inference.ChordInferenceError:
      return []
  chord_encoding = note_seq.TriadChordOneHotEncoding()
  found = []
  for melody in melodies:
    chords = note_seq.ChordProgression()
    try:
      chords.from_quantized_sequence(quantized, melody.start_step,
                                     melody.end_step)
    except chords_lib.CoincidentChordsError:
      continue
    if all(c == note_seq.NO_CHORD for c in chords):
      continue
    for amount in range(-6, 6):
      sheet = copy.deepcopy(note_seq.LeadSheet(melody, chords))
      sheet.transpose(amount)
      sheet.squash(48, 84, None)
      try:
        for chord in sheet.chords:
          chord_encoding.encode_event(chord)
      except (note_seq.ChordEncodingError, note_seq.ChordSymbolError):
        continue
      found.append(sheet)
  return found


def reference_examples(config_id, sequence):
  """[(tokens, chords)] of every example Magenta's pipeline makes of a
  sequence, by note-seq's objects and encodings."""
  one_hot = note_seq.MelodyOneHotEncoding(48, 84)
  drums = note_seq.MultiDrumOneHotEncoding()
  examples = []
  for quantized in quantized_pieces(sequence):
    if quantized is None:
      continue
    if config_id == 'lookback_rnn':
      for melody in magenta_melodies(quantized, **MELODY):
        melody.squash(48, 84, 0)
        examples.append(([one_hot.encode_event(e) for e in melody], None))
    elif config_id == 'drum_kit':
      for track in magenta_drum_tracks(quantized):
        examples.append(([drums.encode_event(e) for e in track], None))
    else:
      for sheet in magenta_lead_sheets(quantized):
        examples.append(([one_hot.encode_event(e) for e in sheet.melody],
                         list(sheet.chords)))
  return examples


# ------------------------------------------------------------------ inputs


def notes(pitches, start=0.0, seconds=0.5, instrument=0, is_drum=False,
          sequence=None):
  """A sequence (or `sequence` extended) with one note per pitch, each
  `seconds` long (a quarter note at 120 qpm), 4/4."""
  if sequence is None:
    sequence = music_pb2.NoteSequence()
    sequence.tempos.add(time=0.0, qpm=120.0)
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    sequence.ticks_per_quarter = 220
  for i, pitch in enumerate(pitches):
    sequence.notes.add(pitch=pitch, velocity=80, start_time=start + i * seconds,
                       end_time=start + (i + 1) * seconds,
                       instrument=instrument, is_drum=is_drum)
  sequence.total_time = max(n.end_time for n in sequence.notes)
  return sequence


# 40 quarter notes (10 bars) of 7 pitch classes: a melody Magenta keeps.
TUNE = [60, 62, 64, 65, 67, 69, 71, 72] * 5
DRUMS = [36, 42, 38, 42] * 10


def chords(sequence, *symbols_at):
  for time, text in symbols_at:
    sequence.text_annotations.add(
        time=time, text=text,
        annotation_type=music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  return sequence


def five_four(sequence):
  sequence.time_signatures[0].numerator = 5
  return sequence


def polyphonic():
  sequence = notes(TUNE)
  notes([55], sequence=sequence)  # starts with the first note
  return sequence


# {id: (sequence, {config id: (tracks_dropped_* counts, no_examples_*)})}:
# sequences built to be left out, each for its reason.
DROPPED = {
    'short': (lambda: notes(TUNE[:8]), {
        'lookback_rnn': ({'melody_too_short': 1}, 'melody_too_short'),
        'drum_kit': ({'no_drums': 1}, 'no_drums'),
        'basic_improv': ({'melody_too_short': 1}, 'melody_too_short')}),
    'few_pitches': (lambda: notes([60, 62, 64, 62] * 10), {
        'lookback_rnn': ({'too_few_unique_pitches': 1},
                         'too_few_unique_pitches')}),
    'polyphonic': (polyphonic, {
        'lookback_rnn': ({'polyphonic_melody': 1}, 'polyphonic_melody'),
        'basic_improv': ({'polyphonic_melody': 1}, 'polyphonic_melody')}),
    'drums_only': (lambda: notes(DRUMS, instrument=9, is_drum=True), {
        'lookback_rnn': ({'no_melody': 1}, 'no_melody'),
        'basic_improv': ({'no_melody': 1}, 'no_melody')}),
    'short_drums': (lambda: notes(DRUMS[:8], instrument=9, is_drum=True), {
        'drum_kit': ({'drum_track_too_short': 1}, 'drum_track_too_short')}),
    'no_chords': (lambda: chords(notes(TUNE), (0.0, 'N.C.')), {
        'basic_improv': ({'no_chords': 1}, 'no_chords')}),
    'sus_chord': (lambda: chords(notes(TUNE), (0.0, 'Csus4')), {
        'basic_improv': ({'chord_not_encodable': 1}, 'chord_not_encodable')}),
    'bad_chord': (lambda: chords(notes(TUNE), (0.0, 'C'), (2.0, 'Xq')), {
        'basic_improv': ({'bad_chord_symbol': 1}, 'bad_chord_symbol')}),
    # Two chords on one step (chords at one time are made one by the split
    # at time changes, as in Magenta).
    'coincident_chords': (lambda: chords(notes(TUNE), (0.0, 'C'), (0.01, 'G')), {
        'basic_improv': ({'coincident_chords': 1}, 'coincident_chords')}),
    'five_four': (lambda: five_four(notes(TUNE)), {
        'basic_improv': ({'chord_inference_failed': 1},
                         'chord_inference_failed')}),
}


def write_notesequences(path, sequences):
  with tf.io.TFRecordWriter(path) as writer:
    for sequence in sequences:
      writer.write(sequence.SerializeToString())
  return path


def fixture_sequences():
  found = []
  for path in FIXTURES:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      sequence = note_seq.midi_file_to_note_sequence(path)
    sequence.id = os.path.basename(path)
    found.append(sequence)
  # A melody over chord symbols of its own (Improv RNN's usual input), and
  # drums.
  sheet = chords(notes(TUNE), (0.0, 'C'), (4.0, 'Am'), (8.0, 'F'),
                 (12.0, 'G7'), (16.0, 'C'))
  notes(DRUMS, instrument=9, is_drum=True, sequence=sheet)
  sheet.id = 'lead_sheet'
  found.append(sheet)
  return found


def build(config, sequences, folder):
  """create_dataset over `sequences` on Beam's DirectRunner; (stats,
  {split: [(source id, tokens, chords)]} read back with open_source)."""
  inputs = write_notesequences(os.path.join(folder, 'ns.tfrecord'), sequences)
  out = os.path.join(folder, 'data')
  dataset.create_dataset(config, inputs, out, eval_ratio=0.3)
  with open(os.path.join(out, dataset.STATS_JSON)) as f:
    stats = json.load(f)
  read = {}
  source = sources.open_source(out)
  for split in ('train', 'eval'):
    read[split] = []
    if not source.files(split):
      continue
    for record in source.records(split, shuffle=False, repeat=False):
      chords_read = None
      if schema.CHORDS in record:
        chords_read = [c.decode() for c in record[schema.CHORDS].numpy()]
      read[split].append((record[schema.ID].numpy().decode(),
                          record[schema.TOKENS].numpy().tolist(), chords_read))
  return stats, read, source


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def built(request, tmp_path_factory):
  config_id = request.param
  config = CONFIGS[config_id]()
  sequences = fixture_sequences()
  folder = str(tmp_path_factory.mktemp(f'extract_{config_id}'))
  return (config_id, config, sequences) + build(config, sequences, folder)


def test_examples_equal_magenta_extraction(built):
  config_id, config, sequences, stats, read, source = built
  got = collections.defaultdict(list)
  for split, examples in read.items():
    for source_id, tokens, chords_read in examples:
      got[source_id].append((tokens, chords_read))
  expected = {}
  for sequence in sequences:
    made = reference_examples(config_id, sequence)
    if made:
      expected[sequence.id] = sorted(made, key=repr)
  assert {k: sorted(v, key=repr) for k, v in got.items()} == expected
  assert sum(len(v) for v in expected.values()) == (
      stats.get('examples_train', 0) + stats.get('examples_eval', 0))
  assert len(expected) >= 2
  assert read['train']
  assert tuple(source.description['sequence_features']) == (
      (schema.TOKENS, schema.CHORDS) if config_id == 'basic_improv'
      else (schema.TOKENS,))
  # Every sequence piece that gave nothing says why, and the counts add up.
  no_examples = sum(v for k, v in stats.items() if k.startswith('no_examples_'))
  assert stats['chunks_encoded'] == stats['chunks_with_examples'] + no_examples


def test_dropped_sequences_counted_with_their_reason(tmp_path):
  for config_id, make in sorted(CONFIGS.items()):
    sequences, tracks, nothing = [], collections.Counter(), collections.Counter()
    for name, (build_sequence, expected) in sorted(DROPPED.items()):
      if config_id not in expected:
        continue
      sequence = build_sequence()
      sequence.id = name
      sequences.append(sequence)
      dropped, reason = expected[config_id]
      tracks.update(dropped)
      nothing[reason] += 1
    # One kept, so that the dataset is not empty.
    kept = fixture_sequences()[-1]
    sequences.append(kept)
    folder = tmp_path / config_id
    folder.mkdir()
    stats, read, _ = build(make(), sequences, str(folder))
    assert {k[len('tracks_dropped_'):]: v for k, v in stats.items()
            if k.startswith('tracks_dropped_')} == dict(tracks), config_id
    assert {k[len('no_examples_'):]: v for k, v in stats.items()
            if k.startswith('no_examples_')} == dict(nothing), config_id
    # Each built sequence is one piece: it is counted once more, as a
    # sequence that gave nothing.
    assert {k[len('sequences_without_examples_'):]: v
            for k, v in stats.items()
            if k.startswith('sequences_without_examples_')} == dict(nothing)
    assert stats['chunks_with_examples'] == 1
    assert {source_id for split in read.values()
            for source_id, _, _ in split} == {kept.id}


def test_lead_sheet_examples_hold_their_chords_in_twelve_keys():
  config = CONFIGS['basic_improv']()
  maker = dataset.ExampleMaker(configs.to_json(config))
  sheet = fixture_sequences()[-1]
  made = list(maker.make_features(sheet, 'eval', lambda *_: None))
  assert len(made) == 12
  assert sorted(m['transposition'] for m in made) == list(range(-6, 6))
  for features in made:
    assert len(features['chords']) == len(features['tokens'])
    # What the Improv RNN reads: the codec's inputs from ids and chords.
    inputs, labels = maker.codec.training_example(features['tokens'],
                                                  features['chords'])
    assert inputs.shape == (len(features['tokens']) - 1, 87)
    assert labels.shape == (len(features['tokens']) - 1,)
  by_amount = {m['transposition']: m['chords'] for m in made}
  assert by_amount[0][0] == 'C' and by_amount[2][0] == 'D'
  # Two chords on one step after the melody leave it alone: Magenta reads
  # the chords of each melody's range only.
  later = chords(notes([60], start=30.0, sequence=notes(TUNE)), (0.0, 'C'),
                 (30.0, 'F'), (30.01, 'G'))
  assert [m['transposition'] for m in maker.make_features(
      later, 'eval', lambda *_: None)] == list(range(-6, 6))
  assert len(reference_examples('basic_improv', later)) == 12


@pytest.mark.parametrize('change, message', [
    (dict(max_events=512), 'max_steps'),
    (dict(extraction={'min_bar': 3}), 'data.extraction'),
    (dict(extraction={'gap_bars': 0}), 'data.extraction'),
    (dict(long_sequences='crop'), "trains on whole tracks.*random crop"),
])
def test_bad_extraction_settings(change, message):
  config = CONFIGS['lookback_rnn']()
  for key, value in change.items():
    config.data[key] = (ml_collections.ConfigDict(value)
                        if isinstance(value, dict) else value)
  with pytest.raises(UsageError, match=message):
    dataset.ExampleMaker(configs.to_json(config))


def test_extraction_settings_defaults_are_magenta_melody_extractor():
  settings = codec_lib.ExtractionSettings()
  assert (settings.min_bars, settings.max_steps, settings.gap_bars,
          settings.min_unique_pitches, settings.ignore_polyphonic_notes) == (
              7, 512, 1.0, 5, False)


# ------------------------------------------------------------ real corpora


def corpus_files(folder, count):
  """A few files of a corpus: Groove's first validation beats (its fills
  are shorter than Magenta's 7 bars), or
  Nottingham tunes spread over its MIDI folder."""
  root = os.path.join(testing_lib.SHARED_DATA, folder)
  if folder == 'groove':
    import csv  # pylint: disable=import-outside-toplevel
    with open(os.path.join(root, 'info.csv')) as f:
      rows = [r for r in csv.DictReader(f) if r['split'] == 'validation'
              and r['beat_type'] == 'beat']
    return [os.path.join(root, r['midi_filename']) for r in rows[:count]]
  paths = sorted(glob.glob(os.path.join(root, 'MIDI', '*.mid')))
  return paths[::max(1, len(paths) // count)][:count]


@testing_lib.requires_shared_data
@pytest.mark.parametrize('config_id, folder', [
    ('drum_kit', 'groove'),
    ('lookback_rnn', 'nottingham'),
    ('basic_improv', 'nottingham'),
])
def test_equal_magenta_on_real_corpora(config_id, folder, tmp_path):
  # note-seq's chord inference (the Improv RNN reference) is slow.
  paths = corpus_files(folder, 4 if config_id == 'basic_improv' else 8)
  sequences = []
  for path in paths:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      sequence = note_seq.midi_file_to_note_sequence(path)
    sequence.id = os.path.relpath(path, testing_lib.SHARED_DATA)
    sequences.append(sequence)
  stats, read, _ = build(CONFIGS[config_id](), sequences, str(tmp_path))
  got = collections.defaultdict(list)
  for examples in read.values():
    for source_id, tokens, chords_read in examples:
      got[source_id].append((tokens, chords_read))
  expected = {s.id: sorted(reference_examples(config_id, s), key=repr)
              for s in sequences}
  expected = {k: v for k, v in expected.items() if v}
  assert len(expected) >= len(paths) // 2
  assert {k: sorted(v, key=repr) for k, v in got.items()} == expected
