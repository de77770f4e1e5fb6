"""MusicVAE's data as Magenta's converters make it (music_vae/data.py:
OneHotMelodyConverter and DrumsConverter), on the one dataset pipeline.

Reference, walked here with note-seq's own objects: each sequence split at
time changes; in each piece the notes the converter reads (melody: MIDI
21..108, the 2-bar models' programs 0-31; drums: drum pitches of the nine
types); quantized at 4 steps a quarter, a piece whose bar is not 16 steps
left out; every melody (`Melody.from_quantized_sequence`, the highest of
notes starting together, gap 1 bar, padded to its bar, at least one bar,
cut to 100 bars) or drum track; the windows of the model's bars ending at
every bar line; each distinct window once; ids by note-seq's one-hot
encodings.
"""

import collections
import glob
import json
import os
import warnings

import note_seq
from note_seq import sequences_lib
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
    try:
      quantized = sequences_lib.quantize_note_sequence(piece, 4)
      if sequences_lib.steps_per_bar_in_quantized_sequence(quantized) != BAR:
        continue
    except (sequences_lib.BadTimeSignatureError,
            sequences_lib.NonIntegerStepsPerBarError,
            sequences_lib.NegativeTimeError):
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
