"""MusicVAE's data as Magenta's converters make it (music_vae/data.py:
OneHotMelodyConverter, DrumsConverter and TrioConverter), on the one
dataset pipeline.

Reference, walked here with note-seq's own objects: each sequence split at
time changes; in each piece the notes the converter reads (melody: MIDI
21..108, the 2-bar models' programs 0-31; drums: drum pitches of the nine
types); quantized at 4 steps a quarter, a piece whose bar is not 16 steps
left out; every melody (`Melody.from_quantized_sequence`, the highest of
notes starting together, gap 1 bar, padded to its bar, at least one bar,
cut to 100 bars) or drum track; the windows of the model's bars ending at
every bar line; each distinct window once; ids by note-seq's one-hot
encodings.

The trios, walked the same way as TrioConverter does: each piece's
instruments typed by their notes (drums, programs 0-31 melody, 32-39 bass,
mixed ones none); a piece without each type left out; each melody and bass
instrument's notes of MIDI 21..108 read alone as a melody over the whole
piece (no gap, padded to its bar, then `set_length` from step 0 to the
piece's last bar), each drums instrument's drum track likewise; the bars
each covers (its notes, then within 2 bars); every (melody, bass, drums)
trio's windows that all three cover (the first and last 2 bars where any
plays), the parts' ids side by side.
"""

import collections
import copy
import glob
import itertools
import json
import math
import os
import warnings

import note_seq
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np
import pytest

from musicrnn import configs
from musicrnn.encodings import codec as codec_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import dataset
import test_magenta_extraction as extraction
import testing_lib

FIXTURES = sorted(glob.glob(testing_lib.testdata('pop', '*.mid'))
                  + [testing_lib.testdata('midi', 'chpn-p10.mid'),
                     testing_lib.testdata('midi', 'karaoke.kar')])
BAR = 16


def quantized_in_4_4(piece):
  """note-seq's piece quantized at 4 steps a quarter, or None where it
  cannot be or its bar is not 16 steps (Magenta's converters' check)."""
  try:
    quantized = sequences_lib.quantize_note_sequence(piece, 4)
  except (sequences_lib.BadTimeSignatureError,
          sequences_lib.NonIntegerStepsPerBarError,
          sequences_lib.NegativeTimeError):
    return None
  if sequences_lib.steps_per_bar_in_quantized_sequence(quantized) != BAR:
    return None
  return quantized


def magenta_windows(sequence, kind, bars, programs=None):
  """{window ids} Magenta's converter makes of a sequence (`kind` 'melody'
  or 'drums'), by note-seq."""
  melody_encoding = note_seq.MelodyOneHotEncoding(21, 109)
  drum_encoding = note_seq.MultiDrumOneHotEncoding()
  drum_pitches = {p for pitches in note_seq.drums_encoder_decoder
                  .DEFAULT_DRUM_TYPE_PITCHES for p in pitches}
  windows = set()
  for piece in sequences_lib.split_note_sequence_on_time_changes(sequence):
    if kind == 'melody':
      kept = [n for n in piece.notes if 21 <= n.pitch <= 108
              and (programs is None or n.program in programs)]
    else:
      kept = [n for n in piece.notes if n.is_drum and n.pitch in drum_pitches]
    del piece.notes[:]
    piece.notes.extend(kept)
    quantized = quantized_in_4_4(piece)
    if quantized is None:
      continue
    if kind == 'melody':
      tracks = extraction.magenta_melodies(
          quantized, min_bars=1, max_steps=100 * BAR, min_unique_pitches=1,
          gap_bars=1.0, ignore_polyphonic_notes=True, pad_end=True)
      encode = melody_encoding.encode_event
    else:
      tracks = extraction.magenta_drum_tracks(
          quantized, min_bars=1, max_steps=100 * BAR, gap_bars=1.0,
          pad_end=True)
      encode = drum_encoding.encode_event
    for track in tracks:
      events = list(track)
      for end in range(bars * BAR, len(events) + 1, BAR):
        windows.add(tuple(encode(e) for e in events[end - bars * BAR:end]))
  return windows


def _instrument_alone(piece, instrument, keep=lambda note: True):
  """A copy of `piece` with only the notes of `instrument` that `keep`."""
  alone = copy.deepcopy(piece)
  del alone.notes[:]
  alone.notes.extend(n for n in piece.notes
                     if n.instrument == instrument and keep(n))
  return alone


def magenta_trio_windows(sequence, bars, gap_bars=2, max_bars=1024):
  """[window ids] TrioConverter makes of a sequence, repeats kept, each id
  (melody * 90 + bass) * 512 + drums, by note-seq (module docstring)."""
  melody_encoding = note_seq.MelodyOneHotEncoding(21, 109)
  drum_encoding = note_seq.MultiDrumOneHotEncoding()
  drum_pitches = {p for pitches in note_seq.drums_encoder_decoder
                  .DEFAULT_DRUM_TYPE_PITCHES for p in pitches}
  windows = []
  for piece in sequences_lib.split_note_sequence_on_time_changes(sequence):
    quantized = quantized_in_4_4(piece)
    if quantized is None:
      continue
    total_bars = min(math.ceil(quantized.total_quantized_steps / BAR),
                     max_bars)
    kinds = {}
    covered = np.zeros((total_bars, 128), bool)
    for note in quantized.notes:
      if note.instrument > 127:
        continue
      kind = ('drums' if note.is_drum else 'melody' if note.program < 32
              else 'bass' if note.program < 40 else 'other')
      kinds[note.instrument] = (kind if kinds.get(note.instrument, kind) == kind
                                else 'other')
      first = note.quantized_start_step // BAR
      if first < total_bars:
        last = min(math.ceil(note.quantized_end_step / BAR), total_bars)
        covered[first:last, note.instrument] = True
    by_kind = [sorted(i for i, k in kinds.items() if k == kind)
               for kind in ('melody', 'bass', 'drums')]
    if not all(by_kind):
      continue
    piece.total_time = total_bars * BAR * 60 / piece.tempos[0].qpm / 4
    encoded = {}
    for instrument in by_kind[0] + by_kind[1]:
      alone = sequences_lib.quantize_note_sequence(_instrument_alone(
          piece, instrument, lambda n: 21 <= n.pitch <= 108), 4)
      tracks = extraction.magenta_melodies(
          alone, min_bars=1, max_steps=math.inf, min_unique_pitches=1,
          gap_bars=math.inf, ignore_polyphonic_notes=True, pad_end=True)
      encode = melody_encoding.encode_event
      if tracks:
        track = tracks[0]
        track.set_length(len(track) + track.start_step, from_left=True)
        track.set_length(alone.total_quantized_steps)
        encoded[instrument] = [encode(e) for e in track]
      else:
        covered[:, instrument] = False
    for instrument in by_kind[2]:
      alone = sequences_lib.quantize_note_sequence(
          _instrument_alone(piece, instrument), 4)
      kept = [n for n in alone.notes if n.is_drum and n.pitch in drum_pitches]
      del alone.notes[:]
      alone.notes.extend(kept)
      tracks = extraction.magenta_drum_tracks(
          alone, min_bars=1, max_steps=math.inf, gap_bars=math.inf,
          pad_end=True)
      if tracks:
        track = tracks[0]
        track.set_length(len(track) + track.start_step, from_left=True)
        track.set_length(alone.total_quantized_steps)
        encoded[instrument] = [drum_encoding.encode_event(e) for e in track]
      else:
        covered[:, instrument] = False
    filled = covered.copy()
    for j in range(total_bars):
      filled[j] = covered[max(0, j - gap_bars):
                          min(total_bars, j + gap_bars) + 1].any(axis=0)
    for trio in itertools.product(*by_kind):
      together = filled[:, list(trio)].all(axis=1)
      together[:gap_bars] = filled[:gap_bars, list(trio)].any()
      together[-gap_bars:] = filled[-gap_bars:, list(trio)].any()
      if not all(i in encoded for i in trio):
        continue
      melody, bass, drums = (encoded[i] for i in trio)
      for j in range(total_bars - bars + 1):
        if together[j:j + bars].all():
          steps = range(j * BAR, (j + bars) * BAR)
          windows.append(tuple((melody[t] * 90 + bass[t]) * 512 + drums[t]
                               for t in steps))
  return windows


def made(config, sequence):
  """(window ids, stats) the pipeline's ExampleMaker makes of a sequence
  (the eval split: no transposition)."""
  maker = dataset.ExampleMaker(configs.to_json(config))
  stats = collections.Counter()
  examples = list(maker.make_features(
      sequence, 'eval', lambda name, n=1: stats.update({name: n})))
  return [tuple(e['tokens'].tolist()) for e in examples], stats


def fixture_sequences():
  found = []
  for path in FIXTURES:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      found.append(note_seq.midi_file_to_note_sequence(path))
  return found


@pytest.mark.parametrize('name,kind,bars,programs', [
    ('cat-mel_2bar_small', 'melody', 2, range(32)),
    ('hierdec-mel_16bar', 'melody', 16, None),
    ('cat-drums_2bar_small', 'drums', 2, None),
])
def test_windows_equal_magentas_converter(name, kind, bars, programs):
  config = configs.get_config(name)
  total = 0
  for sequence in fixture_sequences():
    windows, stats = made(config, sequence)
    # Each distinct window once, as Magenta's converter's set.
    assert len(windows) == len(set(windows))
    assert set(windows) == magenta_windows(sequence, kind, bars, programs)
    assert all(len(w) == bars * BAR for w in windows)
    assert stats['examples_eval'] == len(windows)
    total += len(windows)
  assert total >= 10


def melody(pitches, program=0, numerator=4, repeat=1):
  """A 120 qpm sequence of quarter notes, `repeat` times over."""
  sequence = extraction.notes(list(pitches) * repeat)
  sequence.time_signatures[0].numerator = numerator
  for note in sequence.notes:
    note.program = program
  return sequence


def test_every_sequence_left_out_is_counted_with_its_reason():
  config = configs.get_config('cat-mel_2bar_small')
  tune = [60, 62, 64, 65, 67, 69, 71, 72]   # two bars of quarter notes
  cases = {
      # 3/4: Magenta's converter reads 16-step bars only.
      'wrong_meter': melody(tune * 2, numerator=3),
      # A violin (program 40): no note a 2-bar melody model reads.
      'no_melody': melody(tune * 2, program=40),
      # One bar, then silence: no 2-bar window.
      'track_shorter_than_window': melody(tune[:4]),
  }
  for reason, sequence in cases.items():
    windows, stats = made(config, sequence)
    assert windows == [], reason
    assert stats[f'sequences_without_examples_{reason}'] == 1, (reason, stats)
  # The same two bars four times over: four windows over 8 bars... of which
  # the repeats are counted, not written.
  windows, stats = made(config, melody(tune, repeat=4))
  assert len(windows) == 2 and stats['windows_duplicate'] == 5
  # Notes out of MIDI 21..108 are taken out first, as Magenta's converter
  # does, not moved by octaves into range.
  windows, _ = made(config, melody([110] + tune[1:], repeat=2))
  middle_c = 60 - 21 + 2
  assert windows[0][0] == 0 and windows[0][4] == middle_c + 2


def test_converter_settings_are_checked():
  with pytest.raises(ValueError, match='window_bars'):
    codec_lib.ExtractionSettings(window_bars=-1)
  with pytest.raises(ValueError, match='programs'):
    codec_lib.ExtractionSettings(programs=(200,))
  # Lead sheets are read as Improv RNN reads them.
  config = configs.get_config('basic_improv')
  with config.unlocked():
    config.data.extraction.window_bars = 2
  with pytest.raises(UsageError, match='Improv RNN'):
    dataset.ExampleMaker(configs.to_json(config))


def test_dataset_stats_say_why_nothing_came_out(music_vae_dataset):
  """The Beam-built tiny dataset: windows of 2 bars, and every sequence,
  piece and track that gave none counted with a reason a user can act on."""
  with open(os.path.join(music_vae_dataset, dataset.STATS_JSON)) as f:
    stats = json.load(f)
  for split in ('train', 'eval'):
    assert stats[f'events_{split}'] == 2 * BAR * stats[f'examples_{split}']
  reasons = {'wrong_meter', 'no_melody', 'track_shorter_than_window',
             'melody_too_short', 'polyphonic_melody'}
  prefixes = ('sequences_without_examples_', 'no_examples_', 'tracks_dropped_',
              'encode_failed_')
  counted = {k.split('_', 2)[-1] if k.startswith('no_examples_') else
             k[len(next(p for p in prefixes if k.startswith(p))):]
             for k in stats if k.startswith(prefixes)}
  assert counted and counted <= reasons, counted
  assert stats['windows_duplicate'] > 0


# ------------------------------------------------------------------ trios

TRIO_NAMES = ('hierdec-trio_16bar', 'hierdec-trio_16bar_tiny')


def synthetic_trios():
  """{name: NoteSequence}: trios built to take each of TrioConverter's
  paths."""
  song, add = testing_lib.trio_song, testing_lib.add_notes
  songs = {'full': song(), 'short': song(bars=10),
           'three_four': song(numerator=3), 'no_drums': song(drums=False)}
  # The bass silent for 5 bars: its bar 8 is 3 bars from a note.
  songs['long_gap'] = add(song(bass=False), 1, 33,
                          [*range(6), *range(11, 20)], [36, 43], 2.0)
  # Silent for 4 bars: filled.
  songs['short_gap'] = add(song(bass=False), 1, 33,
                           [*range(6), *range(10, 20)], [36], 4.0)
  # Drums from bar 3: the first two bars count as covered by the others.
  songs['late_drums'] = add(song(bars=18, drums=False), 9, 0, range(3, 18),
                            [36, 42], 0.5, is_drum=True)
  # A bass instrument that also plays a piano: of no type.
  songs['mixed_bass'] = song()
  for note in songs['mixed_bass'].notes:
    if note.instrument == 1 and note.start_time == 4.0:
      note.program = 0
  # A bass below MIDI 21: nothing a melody converter encodes.
  songs['low_bass'] = add(song(bass=False), 1, 34, range(20), [12, 19], 2.0)
  # Two melody instruments (a guitar doubling the piano): two trios whose
  # windows are the same.
  songs['two_melodies'] = add(song(), 2, 25, range(20),
                              testing_lib.TRIO_MELODY)
  # What the converters leave out or change: chords (the highest note),
  # silent notes, a pitch above 108, a note over three bars, a melody
  # ending on a bar line then resting, a strings part (program 48), drum
  # pitches of no type, notes off the grid.
  odd = song(bars=18, melody=False)
  add(odd, 0, 5, range(0, 6), [60, 64, 67, 110])
  add(odd, 0, 5, range(0, 6), [52, 55], 2.0, velocity=0)
  add(odd, 0, 5, [6], [72], 4.0, length=12.0)
  add(odd, 0, 5, range(12, 18), [48, 50, 52], 0.75)
  add(odd, 3, 48, range(20), [55, 59], 2.0)
  add(odd, 9, 0, range(0, 18, 3), [100, 20, 36], 1.0, is_drum=True)
  for k, note in enumerate(odd.notes):
    note.start_time += 0.013 * (k % 5)
  songs['odd_notes'] = odd
  return songs


# Sequences each left out with its reason by the 16-bar config.
TRIO_REASONS = {'short': 'track_shorter_than_window',
                'three_four': 'wrong_meter',
                'no_drums': 'no_drums_instrument',
                'long_gap': 'trio_not_covered',
                'mixed_bass': 'no_bass_instrument',
                'low_bass': 'no_encodable_bass_notes'}


@pytest.mark.parametrize('name', TRIO_NAMES)
def test_trio_windows_equal_magentas_trio_converter(name):
  """Every window of the fixtures (pop: multi-track, drums) and of the
  synthetic trios is one TrioConverter makes, each distinct one once; the
  repeats are counted."""
  config = configs.get_config(name)
  bars = config.data.extraction.window_bars
  total = 0
  for sequence in fixture_sequences() + list(synthetic_trios().values()):
    windows, stats = made(config, sequence)
    reference = magenta_trio_windows(sequence, bars)
    assert len(windows) == len(set(windows))
    assert set(windows) == set(reference)
    assert len(windows) + stats['windows_duplicate'] == len(reference)
    assert all(len(w) == bars * BAR for w in windows)
    total += len(windows)
  assert total >= (40 if bars == 16 else 200), total


def test_trio_sequences_are_cut_to_max_bars():
  config = configs.get_config('hierdec-trio_16bar_tiny')
  with config.unlocked():
    config.data.extraction.max_steps = 12 * BAR
  blue_sky = fixture_sequences()[FIXTURES.index(
      testing_lib.testdata('pop', 'mr_blue_sky.mid'))]
  for sequence in (blue_sky, synthetic_trios()['full']):
    windows, stats = made(config, sequence)
    assert set(windows) == set(magenta_trio_windows(sequence, 2,
                                                    max_bars=12))
    assert stats['tracks_truncated'] >= 1 and windows


def test_every_trio_left_out_is_counted_with_its_reason():
  config = configs.get_config('hierdec-trio_16bar')
  songs = synthetic_trios()
  for song, reason in TRIO_REASONS.items():
    windows, stats = made(config, songs[song])
    assert windows == [], song
    assert stats[f'sequences_without_examples_{reason}'] == 1, (song, stats)
  _, stats = made(config, songs['mixed_bass'])
  assert stats['tracks_dropped_instrument_of_mixed_types'] == 1
  # A gap of 4 bars is filled; the drums' first bars are lenient.
  for song in ('full', 'short_gap', 'late_drums', 'odd_notes'):
    windows, stats = made(config, songs[song])
    assert windows, song
  assert len(made(config, songs['full'])[0]) == 5
  # The doubled melody: the second trio's windows are the first's.
  windows, stats = made(config, songs['two_melodies'])
  assert len(windows) == 5 and stats['windows_duplicate'] == 5


def test_trio_settings_the_converter_does_not_read_are_refused():
  for override, value in (('window_bars', 0), ('gap_bars', 1.5),
                          ('programs', (0, 1)), ('pad_end', False),
                          ('min_unique_pitches', 5)):
    config = configs.get_config('hierdec-trio_16bar')
    with config.unlocked():
      config.data.extraction[override] = value
    with pytest.raises(UsageError, match='trio'):
      dataset.ExampleMaker(configs.to_json(config))


def test_the_build_says_why_sequences_gave_nothing():
  """What the console says after a build (the Magenta user's "no examples
  extracted", with the reasons)."""
  summary = dataset.DatasetSummary(
      output_dir='out', config_name='cat-mel_2bar_small',
      examples={'train': 0, 'eval': 0}, events={'train': 0, 'eval': 0},
      notesequences={'train': 3, 'eval': 0}, seconds=1.0,
      stats={'sequences_without_examples_wrong_meter': 2,
             'sequences_without_examples_no_melody': 1, 'pieces': 0})
  assert summary.why_line() == ('3 of 3 NoteSequences gave no example: wrong '
                                'meter 2, no melody 1 (every count in '
                                'stats.json)')
  summary.stats = {'pieces': 4}
  assert summary.why_line() == ''
