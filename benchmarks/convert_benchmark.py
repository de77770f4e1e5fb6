r"""Benchmark: musicrnn_convert against a serial loop over note-seq's reader.

  python benchmarks/convert_benchmark.py --input_dir=../shared/data \
    --output_json=/tmp/convert_benchmark.json --workers=1,2

For each worker count it runs the Beam pipeline (DirectRunner on Beam's
FnApiRunner, multi-processing mode for more than one worker) over
--input_dir, and, as the baseline in the same run, reads every MIDI file of
the same folder with `note_seq.midi_file_to_note_sequence` in a plain Python
loop (what a Magenta user's script did). It reports files/s, notes/s, the
pipeline's counts, and the speed ratio pipeline / baseline. `--smoke` runs
on the committed test fixtures in seconds (the test suite does this).

  python benchmarks/convert_benchmark.py --compare_readers --input_dir=../shared/data \
    --output_json=/tmp/compare_readers.json

reads every MIDI file under each sub-folder of --input_dir (a corpus) with
both readers and reports, per corpus, the files whose NoteSequences are
equal, different (the target is none), left to note-seq's reader by the
symusic one (the fallback rate, by reason), refused by both, or read only
by symusic, with the paths of the different ones, and each reader's time
in this process (no pipeline around it).
"""

import collections
import glob
import itertools
import json
import os
import platform
import sys
import tempfile
import time

from absl import app
from absl import flags

from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import fast_midi
from musicrnn.pipelines import readers

flags.DEFINE_string('input_dir', None, 'Folder of music files to convert.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_list('workers', ['1', '2'], 'Beam worker counts to measure.')
flags.DEFINE_list('midi_readers', list(readers.MIDI_READERS),
                  'MIDI readers to measure (musicrnn_convert --midi_reader).')
flags.DEFINE_bool('compare_readers', False,
                  'Compare the two MIDI readers\' NoteSequences on every MIDI '
                  'file of each corpus (sub-folder) of --input_dir instead.')
flags.DEFINE_bool('smoke', False,
                  'Run on the committed test fixtures (seconds), for tests.')
FLAGS = flags.FLAGS

_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'tests', 'testdata')


def baseline(files):
  """Serial note-seq reading of every MIDI file: (seconds, files ok, notes)."""
  import note_seq  # pylint: disable=import-outside-toplevel
  start = time.time()
  ok = notes = 0
  for path in files:
    try:
      sequence = note_seq.midi_file_to_note_sequence(path)
    except Exception:  # pylint: disable=broad-except
      continue
    ok += 1
    notes += len(sequence.notes)
  return time.time() - start, ok, notes


def count_notes(paths):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from note_seq.protobuf import music_pb2  # pylint: disable=import-outside-toplevel
  return sum(len(music_pb2.NoteSequence.FromString(r.numpy()).notes)
             for r in tf.data.TFRecordDataset(paths))


def run_benchmark(input_dir, workers, midi_readers=readers.MIDI_READERS):
  listing = convert.list_music_files(input_dir)
  midi = [p for p in listing.music_files if readers.music_format(p) == 'midi']
  base_seconds, base_ok, base_notes = baseline(midi)
  results = {
      'device': f'{platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, no accelerator used',
      'python': sys.version.split()[0],
      'input_dir': os.path.abspath(input_dir),
      'music_files': len(listing.music_files),
      'baseline': {
          'what': 'serial loop of note_seq.midi_file_to_note_sequence over '
                  'the MIDI files',
          'midi_files': len(midi), 'ok': base_ok, 'notes': base_notes,
          'seconds': round(base_seconds, 2),
          'files_per_second': round(len(midi) / base_seconds, 2),
          'notes_per_second': round(base_notes / base_seconds, 1),
      },
      'pipeline': [],
  }
  for n, midi_reader in itertools.product(workers, midi_readers):
    args = ([] if n == 1 else
            ['--direct_running_mode=multi_processing', f'--direct_num_workers={n}'])
    with tempfile.TemporaryDirectory() as tmp:
      summary = convert.convert_directory(
          input_dir, os.path.join(tmp, 'ns.tfrecord'), num_shards=max(n, 1),
          limits=readers.ReadLimits(midi_reader=midi_reader),
          pipeline_options=beam_utils.make_pipeline_options(args))
      notes = count_notes(summary.output_files[:max(n, 1)])
    results['pipeline'].append({
        'workers': n, 'midi_reader': midi_reader,
        'read_by_note_seq': summary.read_by_note_seq,
        'files_seen': summary.files_seen, 'converted': summary.converted,
        'duplicates': summary.duplicates, 'failed': summary.failed,
        'failed_by_reason': summary.failed_by_reason,
        'notesequences': summary.notesequences, 'notes': notes,
        'seconds': summary.seconds,
        'files_per_second': summary.files_per_second,
        'notes_per_second': round(notes / summary.seconds, 1),
        'speed_ratio_vs_baseline': round(
            (summary.files_seen / summary.seconds)
            / (len(midi) / base_seconds), 3),
    })
  return results


def compare_readers(input_dir):
  """Per corpus (sub-folder of `input_dir`, or `input_dir` itself when it
  has none): what `fast_midi.compare_with_note_seq` says of each MIDI file."""
  input_dir = os.path.abspath(input_dir)
  corpora = sorted(d for d in os.listdir(input_dir)
                   if os.path.isdir(os.path.join(input_dir, d))) or ['.']
  results = {'input_dir': input_dir, 'corpora': {}}
  for corpus in corpora:
    paths = sorted(p for p in glob.glob(os.path.join(input_dir, corpus, '**', '*'),
                                        recursive=True)
                   if p.lower().endswith(readers.MIDI_EXTENSIONS))
    if not paths:
      continue
    outcomes = collections.Counter()
    different = []
    start = time.time()
    reading = {}
    for path in paths:
      with open(path, 'rb') as f:
        outcome = fast_midi.compare_with_note_seq(f.read(), reading)
      outcomes[outcome] += 1
      if outcome == fast_midi.DIFFERENT:
        different.append(os.path.relpath(path, input_dir))
    fallbacks = {k[len(fast_midi.FALLBACK_PREFIX):]: v for k, v in outcomes.items()
                 if k.startswith(fast_midi.FALLBACK_PREFIX)}
    readable = len(paths) - outcomes[fast_midi.BOTH_FAIL]
    results['corpora'][corpus] = {
        'midi_files': len(paths),
        'equal': outcomes[fast_midi.EQUAL],
        'different': outcomes[fast_midi.DIFFERENT],
        'read_by_note_seq': fallbacks,
        'fallback_rate': round(sum(fallbacks.values()) / max(readable, 1), 4),
        'both_fail': outcomes[fast_midi.BOTH_FAIL],
        'only_symusic_reads': outcomes[fast_midi.ONLY_FAST_READS],
        'different_files': different,
        'seconds': round(time.time() - start, 1),
        # Each reader in this process, the files read from memory (the
        # fallbacks' note-seq time not added to the fast reader's).
        'note_seq_reader_seconds': round(reading['note_seq'], 5),
        'fast_reader_seconds': round(reading['fast'], 5),
        'fast_reader_speed_ratio': round(reading['note_seq'] / reading['fast'], 1),
    }
    print(f'{corpus}: {results["corpora"][corpus]}', flush=True)
  return results


def main(argv):
  del argv
  if FLAGS.compare_readers:
    if not FLAGS.input_dir or not FLAGS.output_json:
      raise app.UsageError('--compare_readers needs --input_dir and --output_json')
    results = compare_readers(FLAGS.input_dir)
    with open(FLAGS.output_json, 'w') as f:
      json.dump(results, f, indent=2)
    print(f'wrote {FLAGS.output_json}')
    return
  input_dir = os.path.join(_FIXTURES, 'midi') if FLAGS.smoke else FLAGS.input_dir
  if not input_dir or not FLAGS.output_json:
    raise app.UsageError('--input_dir (or --smoke) and --output_json are required')
  results = run_benchmark(input_dir, [int(w) for w in FLAGS.workers],
                          FLAGS.midi_readers)
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  b = results['baseline']
  print(f'{"run":<40}{"files":>7}{"seconds":>10}{"files/s":>10}{"notes/s":>12}{"ratio":>8}')
  print(f'{"note-seq serial (baseline)":<40}{b["midi_files"]:>7}{b["seconds"]:>10}'
        f'{b["files_per_second"]:>10}{b["notes_per_second"]:>12}{1.0:>8}')
  for r in results['pipeline']:
    name = f'musicrnn_convert, {r["midi_reader"]}, {r["workers"]} worker(s)'
    print(f'{name:<40}'
          f'{r["files_seen"]:>7}{r["seconds"]:>10}{r["files_per_second"]:>10}'
          f'{r["notes_per_second"]:>12}{r["speed_ratio_vs_baseline"]:>8}')
  print(f'wrote {FLAGS.output_json}')


if __name__ == '__main__':
  app.run(main)
