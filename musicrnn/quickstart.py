r"""musicrnn_quickstart: the whole musicrnn path on the bundled corpus.

  musicrnn_quickstart --output_dir=/tmp/musicrnn_quickstart

Five stages, each printed with its progress and what it wrote:
  1. convert   the twelve bundled piano-midi.de pieces (see
               musicrnn/quickstart_corpus/README.md) -> NoteSequence TFRecords
  2. dataset   NoteSequences -> Performance-with-dynamics train/eval examples
  3. train     a small Performance RNN with dynamics (2x128 LSTM), a few
               minutes on a CPU
  4. generate  a few MIDI files, each with a piano-roll .png and a .wav
  5. compare   the samples with the held-out (eval) music: notes sounding at
               once, notes the note cap ended, how far apart note lengths are

It is the same as running musicrnn_convert, musicrnn_create_dataset,
musicrnn_train, musicrnn_generate and musicrnn_evaluate --samples_dir by hand
(the README shows the commands).
A stopped quick start picks up where it was when run again: finished stages
are skipped and training resumes from its last checkpoint. --overwrite
starts over. Every Beam pipeline option (--runner, --direct_num_workers, ...)
is passed to the two pipelines.
"""

import dataclasses
import json
import os
import shutil
import sys
import time

from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.quickstart`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn import configs
from musicrnn import tasks
from musicrnn.encodings import performance
from musicrnn.errors import UsageError
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import generate as generate_lib
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import description as description_lib
from musicrnn.training import trainer
# pylint: enable=wrong-import-position

QUICKSTART_CORPUS = os.path.join(os.path.dirname(__file__), 'quickstart_corpus')

# The quick start's model: Performance RNN with dynamics, small enough to
# learn something in a few CPU minutes (Magenta's is 3x512 on 512 events).
CONFIG = 'performance_with_dynamics'
HPARAMS = ('rnn_layer_sizes=[128,128],batch_size=16,max_events=256,'
           'learning_rate=3e-3')
NUM_STEPS = 600
NUM_OUTPUTS = 3
DURATION_SECONDS = 20.0
EVAL_RATIO = 0.1

NOTESEQUENCES = 'notesequences.tfrecord'
DATASET = 'dataset'
RUN = 'run'
GENERATED = 'generated'
SUMMARY_JSON = 'quickstart.json'

flags.DEFINE_string('output_dir', None,
                    'Folder for everything the quick start writes.')
flags.DEFINE_bool('overwrite', False,
                  'Start over: replace the outputs of an earlier quick start '
                  'in --output_dir instead of picking up where it stopped.')
flags.DEFINE_string('config', CONFIG, 'Named config to train.')
flags.DEFINE_string('hparams', None,
                    'Overrides of the config (Magenta-style). Default, for the '
                    f'default --config: "{HPARAMS}", a model that trains in '
                    'minutes on a CPU; for other configs: none.')
flags.DEFINE_integer('num_steps', NUM_STEPS, 'Training steps.', lower_bound=1)
flags.DEFINE_integer('num_outputs', NUM_OUTPUTS, 'MIDI files to generate.',
                     lower_bound=1)
flags.DEFINE_float('duration_seconds', DURATION_SECONDS,
                   'Length of each generated file in seconds.', lower_bound=1.0)
flags.DEFINE_integer('seed', None, 'Random seed for training and sampling.')

FLAGS = flags.FLAGS


@dataclasses.dataclass
class QuickstartSummary:
  """What the quick start wrote, and how long each stage took."""
  output_dir: str
  notesequences: str
  dataset: str
  run_dir: str
  generated: list
  seconds: dict
  train_loss: dict     # {'first': loss of the first log interval, 'last': ...}
  eval: dict           # the last evaluation, if the dataset has eval data
  samples: dict        # the samples against the eval music (sample_figures)


class _Stages:
  """Prints numbered stage headers and times each stage."""

  def __init__(self, total):
    self.total = total
    self.number = 0
    self.seconds = {}
    self._start = time.time()

  def begin(self, name, text):
    self.number += 1
    self._name = name
    self._start = time.time()
    print(f'\n== [{self.number}/{self.total}] {name}: {text}', flush=True)

  def done(self, text='done'):
    """Ends the stage; `text` adds what its own log lines did not say."""
    seconds = time.time() - self._start
    self.seconds[self._name] = round(seconds, 1)
    print(f'   {text} ({seconds:.0f} s)', flush=True)

  def skip(self, text):
    self.seconds[self._name] = 0.0
    print(f'   already done: {text} (--overwrite redoes it)', flush=True)


def _remove_earlier_outputs(output_dir):
  """Removes what an earlier quick start wrote into `output_dir` (only that)."""
  for name in (DATASET, RUN, GENERATED):
    path = os.path.join(output_dir, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
  for path in convert.output_paths(os.path.join(output_dir, NOTESEQUENCES), 1):
    if os.path.exists(path):
      os.remove(path)
  summary = os.path.join(output_dir, SUMMARY_JSON)
  if os.path.exists(summary):
    os.remove(summary)


def run_quickstart(output_dir, *, overwrite=False, config_name=CONFIG,
                   hparams=None, num_steps=NUM_STEPS, num_outputs=NUM_OUTPUTS,
                   duration_seconds=DURATION_SECONDS, seed=None,
                   pipeline_options=None, progress=True):
  """Runs every quick-start stage into `output_dir`.

  Args:
    output_dir: folder for all outputs (created).
    overwrite: start over instead of resuming an earlier quick start.
    config_name, hparams: the config to train and its overrides (None:
      HPARAMS for the default config, none for others).
    num_steps: training steps.
    num_outputs, duration_seconds: how many files to generate, how long.
    seed: seeds training and sampling.
    pipeline_options: Beam PipelineOptions for convert and dataset creation.
    progress: show the trainer's progress bar.

  Returns:
    QuickstartSummary (also written to output_dir/quickstart.json).
  """
  config = configs.get_config(config_name)
  task = tasks.for_config(config)
  if 'duration_seconds' not in task.options:
    raise UsageError(f'the quick start generates music of a duration; config '
                     f'{config_name!r} is a {config.family} (task {task.name}), '
                     f'whose generation takes '
                     f'{", ".join("--" + o for o in task.options)}: train it '
                     'with musicrnn_train (see docs/training.md)')
  if config.data.split_on_time_changes:
    raise UsageError(f'config {config_name!r} cuts music at every tempo and '
                     'time-signature change, and the bundled corpus changes '
                     'tempo every beat: it would have nothing to train on. '
                     'Train it with musicrnn_train on your own music (see '
                     'docs/training.md)')
  if hparams is None:
    hparams = HPARAMS if config_name == CONFIG else ''
  configs.apply_overrides(config, hparams=hparams)
  output_dir = os.path.abspath(output_dir)
  os.makedirs(output_dir, exist_ok=True)
  if overwrite:
    _remove_earlier_outputs(output_dir)
  stages = _Stages(5)
  start = time.time()

  notesequences = os.path.join(output_dir, NOTESEQUENCES)
  stages.begin('convert', f'{QUICKSTART_CORPUS} -> NoteSequences')
  if os.path.exists(notesequences + convert.SUMMARY_SUFFIX):
    stages.skip(notesequences)
  else:
    convert.convert_directory(
        QUICKSTART_CORPUS, notesequences, collection_name='quickstart',
        pipeline_options=pipeline_options)
    stages.done()   # the stage's summary line is logged

  dataset_dir = os.path.join(output_dir, DATASET)
  stages.begin('dataset', f'NoteSequences -> {config.name} examples '
               f'(eval ratio {EVAL_RATIO:g})')
  if os.path.exists(os.path.join(dataset_dir, description_lib.DATASET_JSON)):
    stages.skip(dataset_dir)
  else:
    dataset.create_dataset(config, notesequences, dataset_dir,
                           eval_ratio=EVAL_RATIO,
                           pipeline_options=pipeline_options)
    stages.done()   # the stage's summary line is logged

  run_dir = os.path.join(output_dir, RUN)
  stages.begin('train', f'{config.name} ({hparams or "default hparams"}) for '
               f'{num_steps} steps -> {run_dir}')
  train_summary = trainer.train(
      config, dataset_dir, run_dir, num_steps=num_steps, seed=seed,
      checkpoint_every=max(num_steps // 4, 1), eval_every=num_steps,
      log_every=max(num_steps // 20, 1), progress=progress)
  history = train_summary.history
  losses = {'first': history[0]['loss'], 'last': history[-1]['loss']} \
      if history else {}
  eval_metrics = train_summary.evals[-1] if train_summary.evals else {}
  if not eval_metrics:
    eval_path = os.path.join(run_dir, run_dir_lib.EVAL_METRICS_JSON)
    if os.path.exists(eval_path):
      with open(eval_path) as f:
        eval_metrics = json.load(f)
  if history:
    # The evaluation was logged; the ends of the loss curve were not.
    stages.done(f'steps {train_summary.start_step} -> {train_summary.final_step}, '
                f'train loss {losses["first"]:.3f} -> {losses["last"]:.3f} '
                f'{task.objective.loss_unit}')
  else:
    stages.skip(f'{run_dir} is at step {train_summary.final_step}')

  generated_dir = os.path.join(output_dir, GENERATED)
  stages.begin('generate', f'{num_outputs} x {duration_seconds:g} s of MIDI '
               f'(+ .png, .wav) -> {generated_dir}')
  if os.path.isdir(generated_dir):
    shutil.rmtree(generated_dir)
  paths = generate_lib.generate(
      run_dir, generated_dir, num_outputs=num_outputs,
      duration_seconds=duration_seconds, seed=seed, render_png=True,
      render_wav=True)
  stages.done(f'{len(paths)} MIDI files with their piano rolls and audio')

  stages.begin('compare', 'the samples with the eval music, held out of '
               'training (as musicrnn_evaluate --samples_dir)')
  figures = sample_figures(
      evaluate_lib.evaluate_samples(generated_dir, run_dir=run_dir),
      capped='max_note_duration' in task.options)
  print(describe_figures(figures), flush=True)
  stages.done()

  summary = QuickstartSummary(
      output_dir=output_dir, notesequences=notesequences, dataset=dataset_dir,
      run_dir=run_dir, generated=sorted(os.listdir(generated_dir)),
      seconds=dict(stages.seconds, total=round(time.time() - start, 1)),
      train_loss=losses, eval=eval_metrics, samples=figures)
  with open(os.path.join(output_dir, SUMMARY_JSON), 'w') as f:
    json.dump(dataclasses.asdict(summary), f, indent=2, sort_keys=True)
  _print_where(summary, config_name, hparams)
  return summary


def sample_figures(report, capped=True):
  """The figures the quick start shows of an `evaluate.evaluate_samples`
  report.

  Args:
    report: the report of the samples against the eval music.
    capped: whether generation ended notes at the note cap (the run's task
      takes max_note_duration).

  Returns:
    A JSON-able dict: 'polyphony' and 'long_note_share', each {'samples':
    mean over the files, 'music': mean over the eval chunks};
    'note_duration_distance' (total variation, 0-1); 'files',
    'eval_chunks', 'chunk_seconds' (s), 'note_cap_seconds' (s), 'capped'.
  """
  def sides(name):
    return {'samples': report[name]['generated']['mean'],
            'music': report[name]['reference']['mean']}
  return {
      'polyphony': sides('polyphony'),
      'long_note_share': sides('long_note_share'),
      'note_duration_distance': report['duration_histogram']['distance'],
      'files': report['sequences']['generated'],
      'eval_chunks': report['sequences']['reference'],
      'chunk_seconds': report['chunk_seconds'],
      'note_cap_seconds': performance.MAX_NOTE_DURATION_SECONDS,
      'capped': capped,
  }


def describe_figures(figures):
  """`sample_figures` as the lines the quick start prints."""
  polyphony, long_notes = figures['polyphony'], figures['long_note_share']
  cap = f'{figures["note_cap_seconds"]:g} s'
  long_label = (f'notes ended by the {cap} note cap' if figures['capped']
                else f'notes lasting {cap} or more')
  rows = [
      ('notes sounding at once', f'{polyphony["samples"]:.1f}',
       f'(the music: {polyphony["music"]:.1f})'),
      (long_label, f'{long_notes["samples"]:.1%}',
       f'(the music: {long_notes["music"]:.1%} of its notes last {cap} '
       'or more)'),
      ('note-length distance', f'{figures["note_duration_distance"]:.2f}',
       '(0: note lengths spread as in the music, 1: no length in common)'),
  ]
  width = max(len(label) for label, _, _ in rows)
  return '\n'.join(f'   {label + ":":<{width + 1}} {value:>6}  {note}'
                   for label, value, note in rows)


def _describe_files(names):
  """'3 pieces as .mid, .png, .wav: a_000 ... a_002' for a folder's files."""
  stems = sorted({os.path.splitext(n)[0] for n in names})
  kinds = sorted({os.path.splitext(n)[1] for n in names})
  if not stems:
    return 'nothing'
  shown = stems[0] if len(stems) == 1 else f'{stems[0]} ... {stems[-1]}'
  return f'{len(stems)} piece(s) as {", ".join(kinds)}: {shown}'


def _print_where(summary, config_name, hparams):
  print(f'\nquick start done in {summary.seconds["total"]:.0f} s. '
        f'Everything is in {summary.output_dir}:')
  rows = [
      (NOTESEQUENCES, 'the corpus as NoteSequences (+ .summary.json, '
       '.deadletter.jsonl, .duplicates.jsonl)'),
      (DATASET + '/', 'train/eval SequenceExamples, dataset.json, stats.json'),
      (RUN + '/', 'config.json, checkpoints/, TensorBoard events '
       f'(tensorboard --logdir={summary.run_dir})'),
      (GENERATED + '/', _describe_files(summary.generated)),
      (SUMMARY_JSON, 'this summary, with the time of every stage and the '
       'figures of the samples'),
  ]
  for name, text in rows:
    print(f'  {name:<24} {text}')
  print(f'\nGenerate more: {_script("musicrnn_generate")} --run_dir='
        f'{summary.run_dir} --output_dir={os.path.join(summary.output_dir, "more")} '
        '--num_outputs=4 --render_png --render_wav\n'
        f'Compare them:  {_script("musicrnn_evaluate")} --samples_dir='
        f'{os.path.join(summary.output_dir, "more")} --run_dir={summary.run_dir}\n'
        f'Play with it:  {_script("musicrnn_studio")} --run_dir={summary.run_dir}'
        '  (a page in your browser)\n'
        f'Train longer:  {_script("musicrnn_train")} --config={config_name} '
        + (f'--hparams="{hparams}" ' if hparams else '')
        + f'--train_data={summary.dataset} '
        f'--run_dir={summary.run_dir} --num_steps=5000')


def _script(name):
  """How to run the console script `name` from here: its path relative to
  the working folder when it lies beside this Python (a virtual environment
  not activated, as the README installs it), else its name."""
  path = os.path.join(os.path.dirname(sys.executable), name)
  if not os.path.exists(path):
    return name
  relative = os.path.relpath(path)
  return relative if not relative.startswith('..') else path


def main(argv):
  cli.require('output_dir')
  options = beam_utils.make_pipeline_options(
      argv[1:], own_flags=cli.own_flag_names(__name__))
  run_quickstart(FLAGS.output_dir, overwrite=FLAGS.overwrite,
                 config_name=FLAGS.config, hparams=FLAGS.hparams,
                 num_steps=FLAGS.num_steps, num_outputs=FLAGS.num_outputs,
                 duration_seconds=FLAGS.duration_seconds, seed=FLAGS.seed,
                 pipeline_options=options)


def run():
  cli.run(main, beam=True)


if __name__ == '__main__':
  run()
