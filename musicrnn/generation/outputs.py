"""Generated music written out, the checks of the options generation
shares, and the token loop of the token tasks.

  paths = outputs.generate_tokens(run, 'samples', draw, num_outputs=3,
                                  num_steps=None, duration_seconds=20.0,
                                  seed=1, primer_midi=None,
                                  primer_pitches=[60, 64, 67],
                                  render_png=True, render_wav=False)
  paths = outputs.write_outputs('perf', sequences, 'samples', step=600)
"""

import logging
import os

from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.errors import UsageError
from musicrnn.generation import primers
from musicrnn.generation import render
from musicrnn.generation import sampler

# Steps generated after the primer when neither a number of steps nor a
# duration is given.
DEFAULT_NUM_STEPS = 1000


def check_steps(num_steps, duration_seconds, num_bars=None):
  """Raises a UsageError when more than one of a number of steps, a
  duration and a number of bars is given."""
  given = [f'--{name}' for name, value in (
      ('num_steps', num_steps), ('duration_seconds', duration_seconds),
      ('num_bars', num_bars)) if value is not None]
  if len(given) > 1 and num_bars is None:
    raise UsageError('give one of --num_steps and --duration_seconds, not both')
  if len(given) > 1:
    raise UsageError(f'give one of --num_steps, --duration_seconds and '
                     f'--num_bars, not {" with ".join(given)}')


def bar_steps(codec, num_bars):
  """The metric steps of `num_bars` bars of the codec's grid
  (`Codec.steps_per_bar`: steps_per_quarter x 4 in 4/4), None for None.

  Raises:
    UsageError: num_bars below 1, or a codec without a metric grid (its
      steps are not of a bar: performance events, note tuples).
  """
  if num_bars is None:
    return None
  if num_bars < 1:
    raise UsageError(f'--num_bars must be at least 1, got {num_bars}')
  if not counts_bars(codec):
    raise UsageError(f'--num_bars counts bars of a metric encoding (steps of '
                     f'a quarter note); the {codec.name} encoding has none: '
                     'give --num_steps or --duration_seconds')
  return num_bars * codec.steps_per_bar()


def counts_bars(codec):
  """Whether the codec's output can be measured in bars: a metric grid
  whose steps are the sequence's (not performance events or note tuples)."""
  return codec.steps_per_bar() is not None and (
      codec.sequence_feature != 'tokens' or codec.counts_steps)


def check_temperature(temperature):
  if temperature <= 0:
    raise UsageError(f'--temperature must be > 0, got {temperature}')


def check_max_polyphony(max_polyphony, state_masks):
  """Raises a UsageError for a negative `max_polyphony`, or one given
  without the state masks it works through."""
  if max_polyphony < 0:
    raise UsageError(f'--max_polyphony must be 0 (no limit) or more, got '
                     f'{max_polyphony}')
  if max_polyphony and not state_masks:
    raise UsageError('--max_polyphony works through the state masks: drop '
                     '--nostate_masks or --max_polyphony')


def check_binarize(binarize, threshold):
  """`binarize` ('threshold' or 'bernoulli'), checked with `threshold`."""
  if binarize not in sampler.BINARIZE:
    raise UsageError(f'--binarize must be one of {sampler.BINARIZE}, got '
                     f'{binarize!r}')
  if not 0 < threshold < 1:
    raise UsageError(f'--threshold must be in (0, 1), got {threshold}')
  return binarize


def generate_tokens(run, output_dir, draw, *, num_outputs, num_steps,
                    duration_seconds, seed, primer_midi, primer_pitches,
                    render_png, render_wav, max_note_duration=None,
                    restrike_ends_note=True, primer_frames=None,
                    primer_melody=None, primer_drums=None, qpm=None,
                    num_bars=None, finish=None):
  """Token outputs of a loaded run written as MIDI; returns the paths: the
  primer (`primers.primer_events`), `draw`'s blocks (`draw_tokens`; with
  `num_bars`, `bar_steps` metric steps), each NoteSequence passed through
  `finish` when given (a lead sheet's chords written in), the files
  (`write_outputs`). Arguments as those functions'."""
  check_steps(num_steps, duration_seconds, num_bars)
  metric_steps = bar_steps(run.codec, num_bars)
  primer = primers.primer_events(
      run.codec, primer_midi, primer_pitches, primer_frames,
      primer_melody=primer_melody, primer_drums=primer_drums, qpm=qpm)
  given = (primer_midi, primer_pitches, primer_frames, primer_melody,
           primer_drums)
  primer_seconds = (run.codec.decode_generated(
      primer, max_note_duration, restrike_ends_note).total_time
                    if any(given) else 0.0)
  sequences = draw_tokens(
      run.codec, draw, primer, num_outputs=num_outputs, num_steps=num_steps,
      duration_seconds=duration_seconds, seed=seed,
      primer_seconds=primer_seconds, max_note_duration=max_note_duration,
      restrike_ends_note=restrike_ends_note, metric_steps=metric_steps)
  if finish is not None:
    sequences = [finish(sequence) for sequence in sequences]
  return write_outputs(run.config.name, sequences, output_dir, step=run.step,
                       render_png=render_png, render_wav=render_wav,
                       primer_seconds=primer_seconds)


def draw_tokens(codec, draw, primer, *, num_outputs, num_steps,
                duration_seconds, seed, primer_seconds, max_note_duration=None,
                restrike_ends_note=True, metric_steps=None):
  """The NoteSequences of token outputs that continue `primer`.

  Args:
    codec: the run's codec (`decode_generated`).
    draw: `draw(tokens, steps, seed)` continues [outputs, length] tokens by
      `steps`.
    primer: the primer's ids [n].
    num_steps: tokens to generate after the primer; or
    duration_seconds: blocks are drawn until every output lasts this long,
      then each is trimmed to it; or
    metric_steps: steps of the codec's grid to generate after the primer
      (a codec that `counts_steps`): blocks are drawn until every output
      has that many more steps (`codec.num_steps`), then each is cut after
      the token that completes the last (one id a step: exactly
      `metric_steps` ids). With none, DEFAULT_NUM_STEPS.
    seed: the same seed gives the same outputs.
    primer_seconds: how long the primer lasts (0 for the codec's empty one).
    max_note_duration: a note still on after this many seconds ends (the
      codec's `decode_generated`).
    restrike_ends_note: a note struck again while it sounds ends there (the
      reading of the codec's grammar; `decode_generated`).

  Raises:
    UsageError: the primer lasts `duration_seconds` or longer.
  """
  if metric_steps is not None:
    return _draw_metric_steps(codec, draw, primer, num_outputs, metric_steps,
                              seed, max_note_duration, restrike_ends_note)
  if num_steps is None and duration_seconds is None:
    num_steps = DEFAULT_NUM_STEPS
  if duration_seconds is not None and primer_seconds >= duration_seconds:
    raise UsageError(
        f'the primer lasts {primer_seconds:.1f} s, as long as '
        f'--duration_seconds={duration_seconds:g} or longer: nothing would be '
        'generated; give a longer --duration_seconds or a shorter primer')
  tokens = np.tile(primer[None], (num_outputs, 1))
  block = num_steps if num_steps is not None else max(256, int(60 * duration_seconds))
  while True:
    tokens = draw(tokens, block, seed if seed is None else seed + tokens.shape[1])
    if num_steps is not None:
      break
    sequences = [codec.decode_generated(t, max_note_duration, restrike_ends_note)
                 for t in tokens]
    if min(s.total_time for s in sequences) >= duration_seconds:
      break
  sequences = []
  for ids in tokens:
    sequence = codec.decode_generated(ids, max_note_duration, restrike_ends_note)
    if duration_seconds is not None:
      sequence = trim(sequence, duration_seconds)
    sequences.append(sequence)
  return sequences


def _draw_metric_steps(codec, draw, primer, num_outputs, metric_steps, seed,
                       max_note_duration, restrike_ends_note):
  """`draw_tokens` to a length in steps of the codec's grid."""
  target = codec.num_steps(primer) + metric_steps
  tokens = np.tile(primer[None], (num_outputs, 1))
  while min(codec.num_steps(t) for t in tokens) < target:
    # One id a step (melody, drums) reaches the target in one block; an
    # encoding of several ids a step draws more blocks.
    tokens = draw(tokens, metric_steps,
                  seed if seed is None else seed + tokens.shape[1])
  sequences = []
  for ids in tokens:
    # The shortest prefix with `target` steps (num_steps never falls as ids
    # are added).
    low, high = len(primer), len(ids)
    while low < high:
      middle = (low + high) // 2
      if codec.num_steps(ids[:middle]) >= target:
        high = middle
      else:
        low = middle + 1
    sequences.append(codec.decode_generated(ids[:low], max_note_duration,
                                            restrike_ends_note))
  return sequences


def trim(sequence, seconds):
  """A copy of `sequence` cut at `seconds`: later notes dropped, sounding
  ones ended there."""
  trimmed = music_pb2.NoteSequence()
  trimmed.CopyFrom(sequence)
  del trimmed.notes[:]
  for note in sequence.notes:
    if note.start_time < seconds:
      new = trimmed.notes.add()
      new.CopyFrom(note)
      new.end_time = min(note.end_time, seconds)
  trimmed.total_time = min(sequence.total_time, seconds)
  return trimmed


def write_outputs(name, sequences, output_dir, *, step, render_png=False,
                  render_wav=False, primer_seconds=0.0, suffixes=None):
  """Writes each NoteSequence as `output_dir/<name>_NNN.mid` (and .png with
  the primer marked, .wav); returns the MIDI paths.

  Args:
    name: the files' stem (the run's config name).
    step: the checkpoint step the console line names.
    suffixes: what follows `<name>_` in each file's name, one per sequence
      (default NNN, its index: 000, 001, ...).
  """
  os.makedirs(output_dir, exist_ok=True)
  if suffixes is None:
    suffixes = [f'{i:03d}' for i in range(len(sequences))]
  paths = []
  for suffix, sequence in zip(suffixes, sequences):
    stem = os.path.join(output_dir, f'{name}_{suffix}')
    paths.append(render.write_midi(sequence, stem + '.mid'))
    if render_png:
      render.write_png(sequence, stem + '.png', primer_seconds=primer_seconds)
    if render_wav:
      render.write_wav(sequence, stem + '.wav')
  extras = [ext for ext, wanted in (('.png', render_png), ('.wav', render_wav))
            if wanted]
  one = len(paths) == 1
  logging.info('musicrnn generate: wrote %d MIDI file%s%s to %s (checkpoint step %d)',
               len(paths), '' if one else 's',
               f' with {"its" if one else "their"} {" and ".join(extras)}'
               if extras else '', output_dir, step)
  return paths
