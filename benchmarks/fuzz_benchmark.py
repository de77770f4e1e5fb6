r"""Benchmark: hostile MIDI through musicrnn_convert's isolated reader.

  python benchmarks/fuzz_benchmark.py --seconds=600 \
    --output_json=/tmp/fuzz_benchmark.json

Two parts, in one run:
- overhead: the unmutated seed files (the committed MIDI fixtures, or
  --input_dir) read by `note_seq.midi_io.midi_to_note_sequence` in this
  process (the baseline), by `readers.read_music_bytes` in this process, and
  by `isolation.IsolatedReader` (a child process, limits on); files/s and
  ratios against the baseline, plus the child's start-up time;
- fuzzing: for --seconds, mutations of the seeds
  (`mutate` of tests/midi_mutations.py, the same as tests/test_fuzz.py,
  with the costly sizes unless --noheavy) go through the isolated reader.
  Reported: inputs tried, outcomes by reason, uncaught exceptions (must be
  0; the exit status is 1 otherwise), timeouts, reader restarts, the peak
  RSS of this process and of the children, inputs/s.

`--smoke` runs a few seconds on the fixtures (the test suite does this).
"""

import collections
import glob
import json
import os
import platform
import random
import resource
import sys
import time
import traceback

from absl import app
from absl import flags

from musicrnn.pipelines import isolation
from musicrnn.pipelines import readers

# The mutations and the seed fixtures live with the tests, which share them.
_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'tests')
sys.path.append(_TESTS)
import midi_mutations  # noqa: E402  pylint: disable=wrong-import-position

flags.DEFINE_float('seconds', 600.0, 'How long to fuzz, in seconds.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_string('input_dir', None,
                    'Folder of seed MIDI files (default: the test fixtures).')
flags.DEFINE_integer('max_seeds', 200, 'Most seed files taken from --input_dir.')
flags.DEFINE_integer('seed', 0, 'Random seed of the mutations.')
flags.DEFINE_bool('heavy', True,
                  'Include the costly mutation sizes (million-byte delta '
                  'times, millions of notes): these exercise the limits.')
flags.DEFINE_float('max_seconds_per_file', 5.0, 'The reader\'s time limit.')
flags.DEFINE_integer('max_memory_per_file_mb', 512, 'The reader\'s memory limit.')
flags.DEFINE_integer('overhead_rounds', 30,
                     'Passes over the seed files for the overhead measurement.')
flags.DEFINE_bool('smoke', False, 'A few seconds on the fixtures, for tests.')
FLAGS = flags.FLAGS

_FIXTURES = os.path.join(_TESTS, 'testdata')


def load_seeds(input_dir, max_seeds):
  """[(path, bytes)] of MIDI files that note-seq reads, sorted by path."""
  from note_seq import midi_io  # pylint: disable=import-outside-toplevel
  if input_dir:
    paths = sorted(p for p in glob.glob(os.path.join(input_dir, '**', '*'),
                                        recursive=True)
                   if readers.music_format(p) == 'midi')
  else:
    paths = sorted(glob.glob(os.path.join(_FIXTURES, 'midi', '*'))
                   + glob.glob(os.path.join(_FIXTURES, 'pop', '*')))
  seeds = []
  for path in paths:
    with open(path, 'rb') as f:
      data = f.read()
    try:
      midi_io.midi_to_note_sequence(data)
    except midi_io.MIDIConversionError:
      continue
    seeds.append((path, data))
    if len(seeds) >= max_seeds:
      break
  return seeds


def _files_per_second(reads, seeds, rounds):
  """{name: {files/s, ...}} of each read function over the seeds, `rounds`
  times. The functions take turns on every file, first in turn each round,
  so drift in the machine's load and the cost of going first (measured up
  to 20% on a shared machine) fall on all of them alike."""
  seconds = collections.Counter()
  notes = collections.Counter()
  names = list(reads)
  for round_ in range(rounds):
    turn = round_ % len(names)
    order = names[turn:] + names[:turn]
    for path, data in seeds:
      for name in order:
        start = time.perf_counter()
        notes[name] += reads[name](data, path)
        seconds[name] += time.perf_counter() - start
  files = rounds * len(seeds)
  return {name: {'files': files, 'seconds': round(seconds[name], 5),
                 'files_per_second': round(files / seconds[name], 2),
                 'notes': notes[name]} for name in reads}


def measure_overhead(seeds, limits, rounds):
  """Files/s of note-seq in-process, our reader in-process, and isolated."""
  from note_seq import midi_io  # pylint: disable=import-outside-toplevel
  in_process = readers.ReadLimits(max_seconds_per_file=0, max_memory_per_file_mb=0)

  def note_seq_read(data, path):
    del path
    return len(midi_io.midi_to_note_sequence(data).notes)

  def our_read(data, path):
    return sum(len(s.notes) for s in readers.read_music_bytes(data, path, in_process)[0])

  with isolation.IsolatedReader(limits) as reader:
    first_path, first_data = seeds[0]
    start = time.perf_counter()
    reader.read(first_data, first_path)       # starts the child
    startup = time.perf_counter() - start

    def isolated_read(data, path):
      return sum(len(s.notes) for s in reader.read(data, path)[0])

    reads = {'note_seq_in_process': note_seq_read,
             'read_music_bytes_in_process': our_read,
             'isolated_reader': isolated_read}
    for read in reads.values():   # warm caches
      read(first_data, first_path)
    runs = _files_per_second(reads, seeds, rounds)
  base = runs['note_seq_in_process']['files_per_second']
  for run in runs.values():
    run['speed_ratio_vs_note_seq'] = round(run['files_per_second'] / base, 3)
  assert len({run['notes'] for run in runs.values()}) == 1, runs
  return {'seed_files': len(seeds), 'rounds': rounds,
          'child_start_seconds': round(startup, 3), 'runs': runs}


def fuzz(seeds, limits, seconds, seed, heavy):
  """Mutated seeds through the isolated reader for `seconds`."""
  rng = random.Random(seed)
  data_seeds = [data for _, data in seeds]
  outcomes = collections.Counter()
  by_mutation = collections.defaultdict(collections.Counter)
  crashes = []
  slowest = []
  read_seconds = 0.0
  start = time.perf_counter()
  with isolation.IsolatedReader(limits) as reader:
    while time.perf_counter() - start < seconds:
      data, names = midi_mutations.mutate(data_seeds, rng, heavy=heavy)
      began = time.perf_counter()
      try:
        sequences, _ = reader.read(data, 'fuzzed.mid')
        outcome = 'converted' if sequences else 'no_sequences'
      except readers.ConversionError as e:
        outcome = e.reason if e.reason in readers.REASONS else f'unknown:{e.reason}'
      except Exception as e:  # pylint: disable=broad-except
        outcome = 'uncaught'
        crashes.append({'mutations': names, 'bytes': len(data),
                        'exception': f'{type(e).__name__}: {e}',
                        'traceback': traceback.format_exc(limit=5)})
      took = time.perf_counter() - began
      read_seconds += took
      outcomes[outcome] += 1
      for name in set(names):
        by_mutation[name][outcome] += 1
      slowest = sorted(slowest + [(took, names, len(data), outcome)],
                       key=lambda s: -s[0])[:5]
    restarts = reader.restarts
  wall = time.perf_counter() - start
  tried = sum(outcomes.values())
  return {
      'seconds': round(wall, 2),
      'inputs_tried': tried,
      'inputs_per_second': round(tried / wall, 2),
      'seconds_reading': round(read_seconds, 2),
      'outcomes': dict(sorted(outcomes.items())),
      'outcomes_by_mutation': {k: dict(sorted(v.items()))
                               for k, v in sorted(by_mutation.items())},
      'uncaught_exceptions': len(crashes),
      'crashes': crashes[:20],
      'timeouts': outcomes[readers.REASON_TIMEOUT],
      'reader_restarts': restarts,
      'slowest': [{'seconds': round(t, 2), 'mutations': n, 'bytes': b,
                   'outcome': o} for t, n, b, o in slowest],
  }


def main(argv):
  del argv
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  seconds, rounds, heavy = FLAGS.seconds, FLAGS.overhead_rounds, FLAGS.heavy
  if FLAGS.smoke:
    seconds, rounds, heavy = min(seconds, 3.0), 1, False
  seeds = load_seeds(None if FLAGS.smoke else FLAGS.input_dir, FLAGS.max_seeds)
  if not seeds:
    raise app.UsageError('no MIDI file that note-seq reads among the seeds')
  limits = readers.ReadLimits(
      max_seconds_per_file=FLAGS.max_seconds_per_file,
      max_memory_per_file_mb=FLAGS.max_memory_per_file_mb)
  overhead = measure_overhead(seeds, limits, rounds)
  fuzzing = fuzz(seeds, limits, seconds, FLAGS.seed, heavy)
  results = {
      'device': f'{platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, no accelerator used',
      'python': sys.version.split()[0],
      'seed_files': [os.path.relpath(p) for p, _ in seeds][:50],
      'limits': {'max_seconds_per_file': limits.max_seconds_per_file,
                 'max_memory_per_file_mb': limits.max_memory_per_file_mb},
      'heavy': heavy,
      'overhead': overhead,
      'fuzzing': fuzzing,
      # Linux reports ru_maxrss in KiB.
      'peak_rss_mb': {
          'this_process': round(
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
          'largest_child': round(
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
      },
  }
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)

  print(f'{"overhead run":<30}{"files":>7}{"files/s":>10}{"ratio":>8}')
  for name, run in overhead['runs'].items():
    print(f'{name:<30}{run["files"]:>7}{run["files_per_second"]:>10}'
          f'{run["speed_ratio_vs_note_seq"]:>8}')
  print(f'child start-up: {overhead["child_start_seconds"]} s')
  print(f'fuzzing: {fuzzing["inputs_tried"]} inputs in {fuzzing["seconds"]} s '
        f'({fuzzing["inputs_per_second"]}/s), uncaught exceptions '
        f'{fuzzing["uncaught_exceptions"]}, timeouts {fuzzing["timeouts"]}, '
        f'reader restarts {fuzzing["reader_restarts"]}')
  for outcome, count in fuzzing['outcomes'].items():
    print(f'  {outcome:<28}{count:>7}')
  print(f'peak RSS: this process {results["peak_rss_mb"]["this_process"]} MB, '
        f'largest child {results["peak_rss_mb"]["largest_child"]} MB')
  print(f'wrote {FLAGS.output_json}')
  if fuzzing['uncaught_exceptions']:
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
