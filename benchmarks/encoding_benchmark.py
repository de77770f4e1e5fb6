r"""Benchmark: the performance codec and controls against note-seq's.

  python benchmarks/encoding_benchmark.py --input_dir=../shared/data/asap \
    --limit=200 --output_json=/tmp/encoding_benchmark.json

Reads the MIDI files of --input_dir (sorted, recursively; the first --limit
of them) with `note_seq.midi_file_to_note_sequence` (not timed), then, on the
same NoteSequences, times

  reference  note-seq as Magenta's Performance RNN pipeline uses it:
             `quantize_note_sequence_absolute` + `performance_lib.Performance`
             + `PerformanceOneHotEncoding.encode_event` per event; the note
             density and pitch histogram control signals' `extract` and their
             encoders (density class per event, normalised histogram per
             event);
  ours       `PerformanceCodec.encode`, `NoteDensityControl.classes`,
             `PitchHistogramControl.inputs`;

checks that the outputs agree (tokens and density classes identical,
histograms within 1e-6; every disagreement is counted, and there should be
none), and writes JSON with events, seconds and events/s per stage and in
total, and the speed ratio ours / reference. `--smoke` runs on the committed
test fixtures in seconds (the test suite does this).
"""

import json
import os
import platform
import sys
import time
import warnings

from absl import app
from absl import flags
import numpy as np

import magenta_reference  # benchmarks/, beside this script
from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import controls
from musicrnn.encodings import performance

flags.DEFINE_string('input_dir', None, 'Folder of MIDI files (recursive).')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_integer('limit', None, 'Use only the first N MIDI files (sorted).')
flags.DEFINE_integer('num_velocity_bins', 32, 'Velocity bins (0: none).')
flags.DEFINE_bool('smoke', False,
                  'Run on the committed test fixtures (seconds), for tests.')
FLAGS = flags.FLAGS

_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'tests', 'testdata')
_MIDI_EXTENSIONS = ('.mid', '.midi', '.kar')
_STAGES = ('tokens', 'note_density', 'pitch_histogram')
HISTOGRAM_TOLERANCE = 1e-6


def list_midi(input_dir, limit=None):
  paths = []
  for root, _, names in os.walk(input_dir):
    paths.extend(os.path.join(root, n) for n in names
                 if n.lower().endswith(_MIDI_EXTENSIONS))
  paths.sort()
  return paths[:limit] if limit else paths


def read_sequences(paths):
  """[(path, NoteSequence)] of the files note-seq reads, and the failures."""
  import note_seq  # pylint: disable=import-outside-toplevel
  sequences, failed = [], []
  for path in paths:
    try:
      sequences.append((path, note_seq.midi_file_to_note_sequence(path)))
    except Exception as e:  # pylint: disable=broad-except
      failed.append({'path': path, 'error': f'{type(e).__name__}: {e}'})
  return sequences, failed


def reference(sequence, settings, density_settings, histogram_settings, clock):
  """note-seq's tokens, density classes and histogram inputs, timed.

  Args:
    sequence: a NoteSequence, times in seconds.
    settings: `performance.PerformanceSettings`.
    density_settings: `controls.NoteDensitySettings`.
    histogram_settings: `controls.PitchHistogramSettings`.
    clock: dict stage -> seconds, added to.

  Returns:
    (tokens int [n], density classes int [n], histograms float [n, 12]).
  """
  from note_seq import performance_controls  # pylint: disable=import-outside-toplevel
  start = time.perf_counter()
  tokens, perf = magenta_reference.performance_tokens(sequence, settings)
  clock['tokens'] += time.perf_counter() - start

  start = time.perf_counter()
  density = performance_controls.NoteDensityPerformanceControlSignal(
      density_settings.window_size_seconds,
      list(density_settings.density_bin_ranges))
  one_hot = density.encoder._one_hot_encoding  # pylint: disable=protected-access
  classes = [one_hot.encode_event(d) for d in density.extract(perf)]
  clock['note_density'] += time.perf_counter() - start

  start = time.perf_counter()
  histogram = performance_controls.PitchHistogramPerformanceControlSignal(
      histogram_settings.window_size_seconds, histogram_settings.prior_count)
  values = histogram.extract(perf)
  inputs = [histogram.encoder.events_to_input(values, i)
            for i in range(len(values))]
  clock['pitch_histogram'] += time.perf_counter() - start
  return (np.array(tokens, np.int64), np.array(classes, np.int64),
          np.array(inputs, np.float64).reshape(-1, controls.NOTES_PER_OCTAVE))


def ours(sequence, codec, density, histogram, clock):
  """Our tokens, density classes and histogram inputs, timed likewise."""
  start = time.perf_counter()
  tokens = codec.encode(sequence)
  clock['tokens'] += time.perf_counter() - start
  start = time.perf_counter()
  classes = density.classes(tokens, codec)
  clock['note_density'] += time.perf_counter() - start
  start = time.perf_counter()
  inputs = histogram.inputs(tokens, codec)
  clock['pitch_histogram'] += time.perf_counter() - start
  return tokens, classes, inputs


def run_benchmark(input_dir, limit=None, num_velocity_bins=32):
  import note_seq  # pylint: disable=import-outside-toplevel
  settings = performance.PerformanceSettings(num_velocity_bins=num_velocity_bins)
  codec = performance.PerformanceCodec(settings)
  density = controls.NoteDensityControl()
  histogram = controls.PitchHistogramControl()
  paths = list_midi(input_dir, limit)
  sequences, failed = read_sequences(paths)

  ref_clock = dict.fromkeys(_STAGES, 0.0)
  our_clock = dict.fromkeys(_STAGES, 0.0)
  if sequences:  # Warm both up (imports, first calls) before timing.
    warm = sequences[0][1]
    try:
      reference(warm, settings, density.settings, histogram.settings,
                dict.fromkeys(_STAGES, 0.0))
      ours(warm, codec, density, histogram, dict.fromkeys(_STAGES, 0.0))
    except Exception:  # pylint: disable=broad-except
      pass  # Counted below.
  mismatches = dict.fromkeys(_STAGES, 0)
  mismatched_files = []
  skipped = []
  events = notes = 0
  for path, sequence in sequences:
    try:
      expected = reference(sequence, settings, density.settings,
                           histogram.settings, ref_clock)
    except Exception as e:  # pylint: disable=broad-except
      # note-seq refuses it (e.g. a note before 0 s); so must we.
      try:
        codec.encode(sequence)
        mismatches['tokens'] += 1
        mismatched_files.append(path)
      except codec_lib.EncodingError:
        pass
      skipped.append({'path': path, 'error': f'{type(e).__name__}: {e}'})
      continue
    got = ours(sequence, codec, density, histogram, our_clock)
    events += len(expected[0])
    notes += len(sequence.notes)
    same = (
        np.array_equal(expected[0], got[0]),
        np.array_equal(expected[1], got[1]),
        expected[2].shape == got[2].shape and bool(
            np.all(np.abs(expected[2] - got[2]) <= HISTOGRAM_TOLERANCE)))
    for stage, ok in zip(_STAGES, same):
      mismatches[stage] += not ok
    if not all(same):
      mismatched_files.append(path)

  def rates(clock):
    total = sum(clock.values())
    return {
        'seconds': {k: round(v, 4) for k, v in clock.items()},
        'seconds_total': round(total, 4),
        'events_per_second': {k: round(events / v, 1) if v else None
                              for k, v in clock.items()},
        'events_per_second_total': round(events / total, 1) if total else None,
    }

  ref, our = rates(ref_clock), rates(our_clock)
  return {
      'device': f'{platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, {platform.system()}, single thread, '
                'no accelerator used',
      'python': sys.version.split()[0],
      'numpy': np.__version__,
      'note_seq': getattr(note_seq, '__version__', 'unknown'),
      'input_dir': os.path.abspath(input_dir),
      'limit': limit,
      'midi_files': len(paths),
      'read_failures': len(failed),
      'refused_by_note_seq': skipped,
      'sequences': len(sequences) - len(skipped),
      'notes': notes,
      'events': events,
      'settings': {
          'performance': codec.spec()['settings'],
          'note_density': density.spec()['settings'],
          'pitch_histogram': histogram.spec()['settings'],
      },
      'reference': dict(
          what='note-seq: quantize_note_sequence_absolute + Performance + '
               'PerformanceOneHotEncoding.encode_event per event; '
               'NoteDensity/PitchHistogram PerformanceControlSignal.extract '
               '+ their encoders', **ref),
      'ours': dict(
          what='musicrnn PerformanceCodec.encode + NoteDensityControl.classes '
               '+ PitchHistogramControl.inputs', **our),
      'speed_ratio_ours_vs_reference': {
          k: round(ref_clock[k] / our_clock[k], 1) if our_clock[k] else None
          for k in _STAGES},
      'speed_ratio_ours_vs_reference_total': (
          round(ref['seconds_total'] / our['seconds_total'], 1)
          if our['seconds_total'] else None),
      'mismatches': mismatches,
      'mismatches_total': sum(mismatches.values()),
      'mismatched_files': mismatched_files,
  }


def print_table(results):
  print(f'{results["sequences"]} sequences, {results["notes"]} notes, '
        f'{results["events"]} events; {results["device"]}')
  print(f'{"stage":<18}{"reference ev/s":>16}{"ours ev/s":>14}{"ratio":>9}'
        f'{"mismatches":>12}')
  ref, our = results['reference'], results['ours']
  ratio = results['speed_ratio_ours_vs_reference']
  for stage in _STAGES:
    print(f'{stage:<18}{ref["events_per_second"][stage]:>16}'
          f'{our["events_per_second"][stage]:>14}{ratio[stage]:>9}'
          f'{results["mismatches"][stage]:>12}')
  print(f'{"total":<18}{ref["events_per_second_total"]:>16}'
        f'{our["events_per_second_total"]:>14}'
        f'{results["speed_ratio_ours_vs_reference_total"]:>9}'
        f'{results["mismatches_total"]:>12}')


def main(argv):
  del argv
  warnings.filterwarnings('ignore', category=RuntimeWarning)
  input_dir = os.path.join(_FIXTURES, 'midi') if FLAGS.smoke else FLAGS.input_dir
  if not input_dir or not FLAGS.output_json:
    raise app.UsageError('--input_dir (or --smoke) and --output_json are required')
  results = run_benchmark(input_dir, FLAGS.limit, FLAGS.num_velocity_bins)
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print_table(results)
  print(f'wrote {FLAGS.output_json}')


if __name__ == '__main__':
  app.run(main)
