"""Generation from a trained run: primer + options -> sampled MIDI files.

  paths = generate.generate('/tmp/perf_run', '/tmp/samples', num_outputs=8,
                            num_steps=2000, primer_pitches=[60, 64, 67],
                            seed=1)

Everything about the model comes from `run_dir` (config.json and the latest
checkpoint); its task (`musicrnn.tasks`) samples it, with the options it
takes. A `qpm` option also sets the tempo the outputs are written at, for
an encoding whose settings hold one (`Codec.tempo_settings`).
"""

import dataclasses

from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.generation import primers
from musicrnn.runs import run_dir as run_dir_lib


def generate(run_dir, output_dir, *, num_outputs=1, seed=None,
             render_png=False, render_wav=False, **options):
  """Samples `num_outputs` MIDI files into `output_dir`; returns their paths.

  Args:
    run_dir: a run of musicrnn_train (its config and latest checkpoint).
    seed: the same seed gives the same files.
    render_png: also write a piano-roll .png beside each .mid.
    render_wav: also write a .wav (`render.write_wav`).
    **options: those of the run's task (`task.options`, e.g. num_steps,
      temperature, primer_pitches, primer_melody, qpm and each control's
      flag for token models; num_bars for the piano-roll GAN and metric
      encodings); an option of another task is a UsageError unless it
      holds its default (a flag left alone).

  Raises:
    UsageError: an option the run's task does not take.
  """
  every = tasks.every_option()
  unknown = sorted(set(options) - set(every))
  if unknown:
    raise TypeError(f'generate() got unknown options {unknown}')
  if num_outputs < 1:
    raise UsageError(f'--num_outputs must be at least 1, got {num_outputs}')
  # The options are checked against config.json before the model is built
  # and its checkpoint read: a flag of the other kind is a quick error.
  config, _ = run_dir_lib.load(run_dir)
  task = tasks.for_config(config)
  task.check_options(config, options, every)
  if options.get('qpm') is not None:
    primers.check_qpm(options['qpm'])
  run = _at_tempo(run_dir_lib.load_run(run_dir), options.get('qpm'))
  chosen = {name: options.get(name, default)
            for name, default in task.options.items()}
  return task.generate(run, output_dir, num_outputs=num_outputs, seed=seed,
                       render_png=render_png, render_wav=render_wav, **chosen)


def _at_tempo(run, qpm):
  """`run` whose codec writes at `qpm` quarter notes per minute: a new codec
  with that tempo (`Codec.with_qpm`, the loaded codec left as it is); `run`
  itself for None or an encoding of seconds (the primers then take the tempo
  alone)."""
  if qpm is None or run.codec.tempo_settings() is None:
    return run
  return dataclasses.replace(run, codec=run.codec.with_qpm(float(qpm)))
