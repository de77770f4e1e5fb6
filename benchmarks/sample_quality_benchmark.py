r"""Benchmark: how much the samples of trained runs sound like their music,
with the sampler's state masks off and on (issue 39).

  python benchmarks/sample_quality_benchmark.py \
    --runs=lstm=/tmp/cmp/runs/run_lstm,transformer=/tmp/cmp/runs/run_transformer \
    --num_samples=32 --sample_seconds=30 --variants=max_polyphony=8 \
    --output_json=/tmp/sample_quality.json

For each run (`--runs=label=RUN_DIR,...`) it generates `--num_samples` files
of `--sample_seconds` (seed `--seed`, 1) once with `state_masks=False`
(sampling as before issue 39), once with `state_masks=True`, and once for
each `--variants` value: generation options of `musicrnn_generate` on top of
the defaults, comma-separated (`--variants=max_polyphony=8
--variants=max_polyphony=4,temperature=0.9`). Each set of samples is scored
as `musicrnn_evaluate --samples_dir --run_dir` scores it, against chunks of
`--sample_seconds` of the eval split of the run's own data (the same chunks
for every generation of a run): polyphony (notes sounding at once), notes
per second, the pitch-class, inter-onset-interval, velocity and
note-duration histogram distances (total variation: 0 same, 1 disjoint),
the long-note share (in the samples: notes the 5 s note cap ended; in the
music: notes that long), scale consistency and the share of 8-note n-grams
found in the training pieces, each beside the eval music's value. Prints a
markdown table and appends one JSON entry per call to `--output_json` (a
JSON list). `--smoke` makes 2 files of 6 s per generation, from the runs
given or else from a tiny Performance RNN trained a few steps on the
bundled corpus (seconds; the tests run it).
"""

import ast
import datetime
import os
import re
import shutil
import tempfile
import time

from absl import app
from absl import flags

import smoke_data
from musicrnn import tasks
from musicrnn.encodings import performance
from musicrnn.metrics import music
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib

flags.DEFINE_list('runs', [], 'Trained runs to compare: label=RUN_DIR,...')
flags.DEFINE_integer('num_samples', 32, 'Files generated per run and '
                     'generation.', lower_bound=1)
flags.DEFINE_float('sample_seconds', 30.0, 'Length of each generated file, '
                   'and of the eval music\'s chunks.', lower_bound=1.0)
flags.DEFINE_integer('seed', 1, 'Generation seed (the same for every '
                     'generation, so only the options differ).')
flags.DEFINE_multi_string('variants', [], 'One more generation per value: '
                          'musicrnn_generate options, comma-separated '
                          '(e.g. max_polyphony=8); repeat the flag for more.')
flags.DEFINE_integer('max_reference', 2000, 'At most this many eval chunks '
                     '(a seeded sample), as musicrnn_evaluate.', lower_bound=1)
flags.DEFINE_string('work_dir', None, 'Where the samples go, in '
                    'LABEL/GENERATION folders that each call replaces '
                    '(default: a temporary folder).')
flags.DEFINE_string('output_json', None, 'JSON list the results are appended to.')
flags.DEFINE_bool('smoke', False, '2 files of 6 s per generation; without '
                  '--runs, a tiny run trained on the bundled corpus.')
FLAGS = flags.FLAGS

# The generations every call measures: sampling as before issue 39, then
# with the grammar's state masks.
STATE_MASK_VARIANTS = (('nostate_masks', {'state_masks': False}),
                       ('state_masks', {'state_masks': True}))
SMOKE_CONFIG = 'performance_with_dynamics_tiny'
SMOKE_SAMPLES, SMOKE_SECONDS, SMOKE_TRAIN_STEPS = 2, 6.0, 20

# The distances reported: {column: metrics.music histogram}.
DISTANCES = {'pitch_class': 'pitch_class_histogram', 'ioi': 'ioi_histogram',
             'velocity': 'velocity_histogram', 'duration': 'duration_histogram'}
# The per-file statistics reported (means over files, samples and music).
SCALARS = ('polyphony', 'notes_per_second', 'long_note_share',
           'scale_consistency')
NGRAMS = f'ngram_overlap_{music.NGRAM_LENGTH}'


def parse_runs(values):
  """[(label, run_dir)] of `--runs` values 'label=RUN_DIR'."""
  runs = []
  for value in values:
    label, sep, run_dir = value.partition('=')
    if not sep or not label or not run_dir:
      raise app.UsageError(f'--runs takes label=RUN_DIR,...; got {value!r}')
    if label in dict(runs):
      raise app.UsageError(f'--runs names {label!r} twice')
    runs.append((label, run_dir))
  return runs


def parse_variant(text, options):
  """{option: value} of 'name=value,name=value', each value read as the
  type of the option's default in `options` ({option: default}): a bool
  from true/false, a number, else a Python literal or the text itself."""
  variant = {}
  # A comma starts the next option only before 'name=': a value may hold
  # commas (primer_pitches=[60,64,67]).
  for item in re.split(r',(?=\s*\w+=)', text):
    name, sep, value = item.strip().partition('=')
    if not sep or not name:
      raise app.UsageError(f'--variants takes option=value,...; got {text!r}')
    if name not in options:
      raise app.UsageError(f'--variants={text}: {name!r} is not a generation '
                           f'option; they are {", ".join(sorted(options))}')
    variant[name] = _parse_value(name, value, options[name])
  return variant


def _parse_value(name, value, default):
  if isinstance(default, bool):
    if value.lower() not in ('true', 'false', '1', '0'):
      raise app.UsageError(f'--variants: {name} is true or false, got {value!r}')
    return value.lower() in ('true', '1')
  try:
    if isinstance(default, (int, float)):
      return type(default)(value)
    return ast.literal_eval(value)
  except (ValueError, SyntaxError) as e:
    if isinstance(default, (int, float)):
      raise app.UsageError(f'--variants: {name} is a number, got {value!r}') from e
    return value


def variants(texts, options):
  """[(label, {option: value})]: the state masks off and on, then each of
  `texts` (its label the text)."""
  out = list(STATE_MASK_VARIANTS)
  for text in texts:
    if text in dict(out):
      raise app.UsageError(f'--variants names {text!r} twice')
    out.append((text, parse_variant(text, options)))
  return out


def figures(report):
  """The statistics of an `evaluate_samples` report that the table shows:
  distances, and each scalar and the n-gram overlap for samples and music."""
  row = {'files': report['sequences']['generated'],
         'eval_chunks': report['sequences']['reference'],
         'distances': {column: report[name]['distance']
                       for column, name in DISTANCES.items()},
         'samples': {}, 'eval': {}}
  for name in SCALARS:
    row['samples'][name] = report[name]['generated']['mean']
    row['eval'][name] = report[name]['reference']['mean']
  if NGRAMS in report:
    row['samples']['ngram_overlap'] = report[NGRAMS]['generated']
    row['eval']['ngram_overlap'] = report[NGRAMS]['reference']
  polyphony = row['eval']['polyphony']
  row['polyphony_ratio'] = (row['samples']['polyphony'] / polyphony
                            if polyphony else float('nan'))
  return row


def measure(label, run_dir, variant, options, folder, num_samples, seconds,
            seed, max_reference):
  """Generates `num_samples` files of `seconds` with `options` into `folder`
  (replacing what an earlier call left there) and scores them against the
  run's eval music; returns the row."""
  if os.path.isdir(folder):
    shutil.rmtree(folder)   # every MIDI file of the folder would be scored
  start = time.time()
  generate.generate(run_dir, folder, num_outputs=num_samples,
                    duration_seconds=seconds, seed=seed, **options)
  generated = time.time() - start
  report = evaluate_lib.evaluate_samples(
      folder, run_dir=run_dir, chunk_seconds=seconds,
      max_reference=max_reference)
  return {'run': label, 'run_dir': os.path.abspath(run_dir),
          'variant': variant, 'options': options,
          'generate_seconds': round(generated, 1), **figures(report)}


def _pair(row, name, digits):
  value = row['samples'].get(name)
  if value is None:
    return '-'
  return f'{value:.{digits}f} ({row["eval"][name]:.{digits}f})'


def markdown_table(rows):
  """The rows as a markdown table: samples' values, the eval music's in
  brackets."""
  lines = [
      '| run | generation | files / eval chunks | polyphony | x music | '
      'notes/s | notes ended by the cap | pitch-class / IOI / velocity / '
      'duration distance | scale consistency | 8-gram overlap |',
      '|---|---|---|---|---:|---|---|---|---|---|']
  for row in rows:
    d = row['distances']
    lines.append(
        f'| {row["run"]} | {row["variant"]} | {row["files"]} / '
        f'{row["eval_chunks"]} | {_pair(row, "polyphony", 2)} | '
        f'{row["polyphony_ratio"]:.2f} | {_pair(row, "notes_per_second", 2)} | '
        f'{_pair(row, "long_note_share", 3)} | '
        + ' / '.join(f'{d[c]:.3f}' for c in DISTANCES)
        + f' | {_pair(row, "scale_consistency", 3)} | '
        f'{_pair(row, "ngram_overlap", 3)} |')
  return '\n'.join(lines)


def _folder_name(text):
  return re.sub(r'[^A-Za-z0-9_.=-]+', '_', text)


def main(argv):
  del argv
  options = tasks.every_option()
  runs = parse_runs(FLAGS.runs)
  generations = variants(FLAGS.variants, options)
  if not runs and not FLAGS.smoke:
    raise app.UsageError('--runs=label=RUN_DIR,... is required (or --smoke)')
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix='sample_quality_')
  os.makedirs(work, exist_ok=True)
  if FLAGS.smoke:
    num_samples, seconds = SMOKE_SAMPLES, SMOKE_SECONDS
    if not runs:
      runs = [('tiny', smoke_data.trained_run(work, SMOKE_CONFIG,
                                              SMOKE_TRAIN_STEPS))]
  else:
    num_samples, seconds = FLAGS.num_samples, FLAGS.sample_seconds
  # Every run's config first: a wrong path fails before any generation.
  configs = {label: run_dir_lib.load(run_dir)[0] for label, run_dir in runs}
  rows = []
  for label, run_dir in runs:
    for variant, chosen in generations:
      row = measure(label, run_dir, variant, chosen,
                    os.path.join(work, _folder_name(label), _folder_name(variant)),
                    num_samples, seconds, FLAGS.seed, FLAGS.max_reference)
      row['config'] = configs[label].name
      rows.append(row)
  result = {'date': datetime.date.today().isoformat(), 'smoke': FLAGS.smoke,
            'num_samples': num_samples, 'sample_seconds': seconds,
            'seed': FLAGS.seed,
            'note_cap_seconds': performance.MAX_NOTE_DURATION_SECONDS,
            'work_dir': os.path.abspath(work), 'rows': rows}
  print(f'{num_samples} files of {seconds:g} s per generation (seed '
        f'{FLAGS.seed}) against eval chunks of {seconds:g} s; samples '
        '(eval music)')
  print(markdown_table(rows))
  if FLAGS.output_json:
    smoke_data.append_result(FLAGS.output_json, result)


if __name__ == '__main__':
  app.run(main)
