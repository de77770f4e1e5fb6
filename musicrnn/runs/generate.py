"""Generation from a trained run: primer + options -> sampled MIDI files.

  paths = generate.generate('/tmp/perf_run', '/tmp/samples', num_outputs=8,
                            num_steps=2000, primer_pitches=[60, 64, 67],
                            seed=1)

  paths = generate.generate('/tmp/vae_run', '/tmp/steps', mode='interpolate',
                            input_midi_1='a.mid', input_midi_2='b.mid',
                            num_outputs=5, temperature=0.5, seed=1)
  vector, summary = generate.attribute_vector('/tmp/vae_run', 'density.npy',
                                              attribute='note_density')

Everything about the model comes from `run_dir` (config.json and the latest
checkpoint); its task (`musicrnn.tasks`) samples it, with the options it
takes, in one of its modes (`Task.modes`: every task samples; a MusicVAE
run also interpolates and reconstructs). A `qpm` option also sets the tempo
the outputs are written at, for an encoding whose settings hold one
(`Codec.tempo_settings`). `attribute_vector` writes the latent direction of
an attribute that a MusicVAE run's generation can add to z.
"""

import dataclasses

import numpy as np

from musicrnn import models
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.generation import latent
from musicrnn.generation import primers
from musicrnn.models import protocols
from musicrnn.runs import magenta
from musicrnn.runs import model_file
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
  # The options are checked against config.json before the model is built
  # and its checkpoint read: a flag of the other kind is a quick error.
  config, _ = run_dir_lib.load(run_dir)
  check_options(config, num_outputs, options)
  return generate_loaded(run_dir_lib.load_run(run_dir), output_dir,
                         num_outputs=num_outputs, seed=seed,
                         render_png=render_png, render_wav=render_wav,
                         **options)


def check_options(config, num_outputs, options):
  """Raises a UsageError for options the run of `config` does not take (a
  TypeError for an option no task has)."""
  every = tasks.every_option()
  unknown = sorted(set(options) - set(every))
  if unknown:
    raise TypeError(f'generate() got unknown options {unknown}')
  if num_outputs < 1:
    raise UsageError(f'--num_outputs must be at least 1, got {num_outputs}')
  task = tasks.for_config(config)
  check_mode(config, task, options.get('mode', 'sample'))
  task.check_options(config, options, every)
  if options.get('qpm') is not None:
    primers.check_qpm(options['qpm'])


def generate_loaded(run, output_dir, *, num_outputs=1, seed=None,
                    render_png=False, render_wav=False, **options):
  """`generate` on a loaded run (`run_dir.load_run`), which keeps its
  compiled sampling loops between calls (the studio's); the options are
  checked as `generate` checks them."""
  check_options(run.config, num_outputs, options)
  run = _at_tempo(run, options.get('qpm'))
  chosen = {name: options.get(name, default)
            for name, default in run.task.options.items()}
  return run.task.generate(run, output_dir, num_outputs=num_outputs, seed=seed,
                           render_png=render_png, render_wav=render_wav,
                           **chosen)


def run_of_model_file(path, run_dir):
  """Writes the run of an .mrnn model file or a Magenta .mag bundle as the
  folder `run_dir`; returns it.

  Raises:
    UsageError: neither, or a file that cannot be read as one.
  """
  if model_file.is_model_file(path):
    return model_file.unpack(path, run_dir)
  return magenta.import_bundle(path, run_dir)


def check_mode(config, task, mode):
  """Raises a UsageError for a generation mode the run's task lacks
  (`Task.modes`), naming its modes and the tasks that have it."""
  if mode in task.modes:
    return
  others = tasks.tasks_with_mode(mode)
  families = sorted(family for family, cls in models.FAMILIES.items()
                    if cls.task in others)
  where = (f'; --mode={mode} is for runs of task {" or ".join(others)} '
           f'(family {", ".join(families)})' if others else '')
  raise UsageError(
      f'--mode={mode}: the run of config {config.name!r} (family '
      f'{config.family}, task {task.name}) generates with --mode='
      f'{" or --mode=".join(task.modes)}{where}')


def _at_tempo(run, qpm):
  """`run` whose codec writes at `qpm` quarter notes per minute: a new codec
  with that tempo (`Codec.with_qpm`, the loaded codec left as it is); `run`
  itself for None or an encoding of seconds (the primers then take the tempo
  alone)."""
  if qpm is None or run.codec.tempo_settings() is None:
    return run
  return dataclasses.replace(run, codec=run.codec.with_qpm(float(qpm)))


def attribute_vector(run_dir, output_file, *, attribute=None, input_dir=None,
                     split='train', with_dir=None, without_dir=None,
                     fraction=0.5, max_windows=None):
  """Computes an attribute vector of a latent-variable model's run and saves
  it as a .npy file (`latent.save_vector`); returns (vector, summary).

  Either `attribute` (a name of `latent.ATTRIBUTES`) measured on the
  windows of `input_dir`'s music files, or of the run's dataset's `split`
  without one: the mean latent of the top `fraction` of the windows ranked
  by it minus that of the bottom `fraction` (`latent.attribute_vector`);
  or the mean latent of the windows of the
  music in `with_dir` minus that of `without_dir`'s
  (`latent.difference_of_means`).

  Args:
    max_windows: read at most this many windows of each source (None: all).

  Returns:
    (vector float32 [z_size], summary dict: the counts of windows, and the
    attribute and its quantiles, or the files that gave no window).

  Raises:
    UsageError: a run of another kind of model, neither or both ways given,
      sources without windows.
  """
  if bool(attribute) == bool(with_dir or without_dir):
    raise UsageError('give --attribute (measured on --input_dir\'s music or '
                     'the run\'s dataset), or --with_dir and --without_dir')
  if (with_dir or without_dir) and not (with_dir and without_dir):
    raise UsageError('--with_dir and --without_dir go together')
  if input_dir and not attribute:
    raise UsageError('--input_dir is the music --attribute is measured on')
  run = run_dir_lib.load_run(run_dir)
  if not isinstance(run.model, protocols.LatentVariableModel):
    raise UsageError(
        f'an attribute vector is a direction in a latent-variable model\'s '
        f'latent space; the run of config {run.config.name!r} (family '
        f'{run.config.family}) has none')
  if attribute:
    if input_dir:
      windows, skipped = latent.file_windows(run, input_dir, max_windows)
      source = {'input_dir': input_dir, 'files_without_windows': skipped}
    else:
      data = run_dir_lib.dataset_dir(run_dir)
      if not data:
        raise UsageError(f'{run_dir} records no dataset: give --input_dir')
      windows = latent.dataset_windows(data, split, run.model.max_seq_len,
                                       max_windows)
      source = {'dataset': data, 'split': split}
    vector, summary = latent.attribute_vector(run, windows, attribute,
                                              fraction)
    summary.update(source)
  else:
    z, summary = {}, {}
    for side, folder in (('with', with_dir), ('without', without_dir)):
      windows, skipped = latent.file_windows(run, folder, max_windows,
                                             f'--{side}_dir')
      z[side] = latent.encode_windows(run, windows)
      summary.update({f'{side}_dir': folder, f'windows_{side}': len(windows),
                      f'files_without_windows_{side}': skipped})
    vector = latent.difference_of_means(z['with'], z['without'])
  summary['norm'] = float(np.linalg.norm(vector))
  if output_file:
    latent.save_vector(output_file, vector)
  return vector, summary
