"""Generation from a trained run: primer + controls -> sampled MIDI files.

  paths = generate.generate('/tmp/perf_run', '/tmp/samples', num_outputs=8,
                            num_steps=2000, primer_pitches=[60, 64, 67],
                            notes_per_second=4.0, seed=1)

Everything about the model comes from `run_dir` (config.json and the latest
checkpoint). The sampler runs one compiled loop over the whole batch.
"""

import logging
import os

from note_seq import midi_io
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings.codec import EncodingError
from musicrnn.errors import UsageError
from musicrnn.generation import render
from musicrnn.generation import sampler
from musicrnn.training import run_dir as run_dir_lib

PRIMER_VELOCITY = 80


def primer_events(codec, primer_midi=None, primer_pitches=None):
  """The primer as event ids (at least one).

  A MIDI primer is encoded whole; a list of pitches is a chord held for one
  quarter note at 120 qpm (0.5 s), as Magenta's --primer_pitches; with
  neither, a single shortest time shift starts the sequence.
  """
  if primer_midi and primer_pitches:
    raise UsageError('give --primer_midi or --primer_pitches, not both')
  if primer_midi:
    if not os.path.exists(primer_midi):
      raise UsageError(f'--primer_midi={primer_midi} does not exist')
    try:
      sequence = midi_io.midi_file_to_note_sequence(primer_midi)
    except midi_io.MIDIConversionError as e:
      raise UsageError(f'--primer_midi={primer_midi} is not readable MIDI: {e}') from e
  elif primer_pitches:
    sequence = music_pb2.NoteSequence()
    sequence.tempos.add(qpm=120.0)
    for pitch in primer_pitches:
      if not 0 <= int(pitch) <= 127:
        raise UsageError(f'primer pitch {pitch} is outside 0..127')
      sequence.notes.add(pitch=int(pitch), velocity=PRIMER_VELOCITY,
                         start_time=0.0, end_time=0.5)
    sequence.total_time = 0.5
  else:
    sequence = None
  if sequence is None:
    return np.asarray(codec.empty_primer(), np.int32)
  try:
    events = np.asarray(codec.encode(sequence), np.int32)
  except EncodingError as e:
    # Metric encodings take one tempo and meter: a primer that changes
    # either is continued from its first section with notes.
    events = _first_section(codec, sequence)
    if events is None:
      raise UsageError(f'the primer cannot be encoded with '
                       f'{codec.spec()["name"]}: {e}') from e
  if codec.end_id is not None:
    # The primer is continued, not ended (Magenta trims its trailing END).
    events = events[events != codec.end_id] if len(events) > 1 else events
  if len(events) == 0:
    raise UsageError('the primer has no notes')
  return events


def _first_section(codec, sequence):
  """The ids of the first section of `sequence` between tempo and time
  signature changes that has notes and that `codec` encodes, or None."""
  for section in sequences_lib.split_note_sequence_on_time_changes(sequence):
    if not section.notes:
      continue
    try:
      events = np.asarray(codec.encode(section), np.int32)
    except EncodingError:
      continue
    logging.info('musicrnn generate: the primer changes tempo or time signature '
                 '(the %s encoding takes one of each): its first section with '
                 'notes, %.1f s, primes the outputs', codec.spec()['name'],
                 section.total_time)
    return events
  return None


def control_values(run, notes_per_second=None, pitch_class_histogram=None):
  """{control name: value per step} for the run's controls.

  Raises:
    UsageError: a control the model was not trained with.
  """
  names = {name for name, _ in run.controls}
  if notes_per_second is not None and 'note_density' not in names:
    raise UsageError(f'--notes_per_second: config {run.config.name!r} was not '
                     'trained with a note-density control')
  if pitch_class_histogram is not None and 'pitch_histogram' not in names:
    raise UsageError(f'--pitch_class_histogram: config {run.config.name!r} was '
                     'not trained with a pitch-histogram control')
  values = {}
  for name, control in run.controls:
    if name == 'note_density':
      value = (control.default_value if notes_per_second is None
               else notes_per_second)
      if value < 0:
        raise UsageError(f'--notes_per_second must be >= 0, got {value}')
      values[name] = np.int32(control.class_of(value))
    else:
      histogram = (pitch_class_histogram if pitch_class_histogram is not None
                   else [1.0] * 12)
      if len(histogram) != 12 or min(histogram) < 0 or sum(histogram) <= 0:
        raise UsageError('--pitch_class_histogram needs 12 non-negative weights, '
                         f'not all zero; got {histogram}')
      values[name] = control.constant_inputs(histogram).astype(np.float32)
  return values


def _schedules(values, batch, total):
  return {name: np.broadcast_to(value, (batch, total) + np.shape(value)).copy()
          for name, value in values.items()}


DEFAULT_NUM_STEPS = 1000
BINARIZE = sampler.BINARIZE
# Magenta's Performance RNN generator ends a note its sampled events never
# turn off after 5 s (performance_lib.MAX_NOTE_DURATION_SECONDS); without a
# cap such a note sounds to the end of the file.
MAX_NOTE_DURATION_SECONDS = 5.0


# The options of each kind of generation, with their defaults. A run's
# objective picks the kind; an option of another kind is an error.
EVENT_OPTIONS = {
    'num_steps': None, 'duration_seconds': None, 'temperature': 1.0,
    'top_k': 0, 'top_p': 1.0, 'primer_midi': None, 'primer_pitches': None,
    'notes_per_second': None, 'pitch_class_histogram': None, 'beam_size': 1,
    'branch_factor': 1, 'steps_per_iteration': 1,
    'max_note_duration': MAX_NOTE_DURATION_SECONDS}
# binarize None: each kind's own default ('threshold' for the GAN's rolls,
# 'bernoulli' for frames).
PIANOROLL_OPTIONS = {'num_bars': None, 'binarize': None,
                     'threshold': 0.5, 'latent_step': 0.5}
TUPLE_OPTIONS = {'num_steps': None, 'duration_seconds': None,
                 'temperature': 1.0, 'head_temperatures': None,
                 'primer_midi': None, 'primer_pitches': None}
FRAME_OPTIONS = {'num_steps': None, 'duration_seconds': None,
                 'temperature': 1.0, 'binarize': None, 'threshold': 0.5,
                 'primer_midi': None, 'primer_pitches': None}


def generate(run_dir, output_dir, *, num_outputs=1, seed=None,
             render_png=False, render_wav=False, **options):
  """Samples `num_outputs` MIDI files into `output_dir`; returns their paths.

  Args:
    run_dir: a run of musicrnn_train (its config and latest checkpoint).
    seed: the same seed gives the same files.
    render_png: also write a piano-roll .png beside each .mid.
    render_wav: also write a .wav (`render.write_wav`).
    **options: for autoregressive runs (objective next_token), those of
      `generate_events` (EVENT_OPTIONS); for piano-roll GAN runs (objective
      adversarial), those of `generate_pianorolls` (PIANOROLL_OPTIONS); for
      frame models (objective multi_label), those of `generate_frames`
      (FRAME_OPTIONS); for multi-head models (objective multi_head, the
      note LSTM), those of `generate_tuples` (TUPLE_OPTIONS).

  Raises:
    UsageError: an option the run's kind of generation does not take.
  """
  every = {**EVENT_OPTIONS, **PIANOROLL_OPTIONS, **FRAME_OPTIONS,
           **TUPLE_OPTIONS}
  unknown = sorted(set(options) - set(every))
  if unknown:
    raise TypeError(f'generate() got unknown options {unknown}')
  if num_outputs < 1:
    raise UsageError(f'--num_outputs must be at least 1, got {num_outputs}')
  # The options are checked against config.json before the model is built
  # and its checkpoint read: a flag of the other kind is a quick error.
  config, _ = run_dir_lib.load(run_dir)
  objective = config.train.objective
  generator, takes = _GENERATORS[objective]
  foreign = [f'--{name}' for name, value in options.items()
             if name not in takes and not _is_default(value, every[name])]
  if foreign:
    raise UsageError(
        f'{", ".join(foreign)}: the run of config {config.name!r} (family '
        f'{config.family}, objective {objective}) takes '
        + ', '.join(f'--{name}' for name in takes))
  run = run_dir_lib.load_run(run_dir)
  chosen = {name: options.get(name, default) for name, default in takes.items()}
  return generator(run, output_dir, num_outputs=num_outputs, seed=seed,
                   render_png=render_png, render_wav=render_wav, **chosen)


def _is_default(value, default):
  if default is None:
    return value is None
  return value is not None and bool(np.array_equal(value, default))


def generate_events(run, output_dir, *, num_outputs=1, num_steps=None,
                    duration_seconds=None, temperature=1.0, top_k=0, top_p=1.0,
                    seed=None, primer_midi=None, primer_pitches=None,
                    notes_per_second=None, pitch_class_histogram=None,
                    render_png=False, render_wav=False, beam_size=1,
                    branch_factor=1, steps_per_iteration=1,
                    max_note_duration=MAX_NOTE_DURATION_SECONDS):
  """Samples event sequences from an autoregressive run and writes them as
  MIDI; returns the paths.

  Args:
    run: a loaded run (`run_dir.load_run`).
    num_steps: events to generate after the primer (default 1000); or
    duration_seconds: generate until each output lasts this long.
    temperature, top_k, top_p: how each event is drawn (`sampler.sample`).
    primer_midi, primer_pitches: what the outputs continue (`primer_events`).
    notes_per_second, pitch_class_histogram: control values, for runs
      conditioned on them.
    max_note_duration: a note still on after this many seconds ends
      (encodings whose tokens can leave a note on; 0: notes last to the end).
    beam_size, branch_factor: above 1, Magenta's stochastic beam search
      (`sampler.beam_search`) instead of plain sampling, pruning every
      `steps_per_iteration` events.
  """
  if num_steps is not None and duration_seconds is not None:
    raise UsageError('give one of --num_steps and --duration_seconds, not both')
  if num_steps is None and duration_seconds is None:
    num_steps = DEFAULT_NUM_STEPS
  if temperature <= 0:
    raise UsageError(f'--temperature must be > 0, got {temperature}')
  if not 0 < top_p <= 1:
    raise UsageError(f'--top_p must be in (0, 1], got {top_p}')
  if min(beam_size, branch_factor, steps_per_iteration) < 1:
    raise UsageError('--beam_size, --branch_factor and --steps_per_iteration '
                     'must be at least 1')
  values = control_values(run, notes_per_second, pitch_class_histogram)
  # An encoding's END would cut the output short: generation runs to length.
  banned = () if run.codec.end_id is None else (run.codec.end_id,)

  def draw(tokens, steps, seed):
    kwargs = dict(controls=_schedules(values, num_outputs, tokens.shape[1] + steps),
                  temperature=temperature, top_k=top_k, top_p=top_p,
                  seed=seed, banned_ids=banned)
    if beam_size > 1 or branch_factor > 1:
      return sampler.beam_search(run.model, tokens, steps, beam_size=beam_size,
                                 branch_factor=branch_factor,
                                 steps_per_iteration=steps_per_iteration,
                                 **kwargs)
    return sampler.sample(run.model, tokens, steps, **kwargs)

  return _generate_tokens(run, output_dir, draw, num_outputs=num_outputs,
                          num_steps=num_steps, duration_seconds=duration_seconds,
                          seed=seed, primer_midi=primer_midi,
                          primer_pitches=primer_pitches, render_png=render_png,
                          render_wav=render_wav,
                          max_note_duration=max_note_duration)


def _generate_tokens(run, output_dir, draw, *, num_outputs, num_steps,
                     duration_seconds, seed, primer_midi, primer_pitches,
                     render_png, render_wav, max_note_duration=None):
  """Token generation of every kind: `draw(tokens, steps, seed)` continues
  the [outputs, length] tokens by `steps`; with `duration_seconds`, blocks
  are drawn until every output lasts that long, then trimmed."""
  if num_steps is None and duration_seconds is None:
    num_steps = DEFAULT_NUM_STEPS
  primer = primer_events(run.codec, primer_midi, primer_pitches)
  primer_seconds = run.codec.decode_generated(primer, max_note_duration).total_time \
      if primer_midi or primer_pitches else 0.0
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
    sequences = [run.codec.decode_generated(t, max_note_duration) for t in tokens]
    if min(s.total_time for s in sequences) >= duration_seconds:
      break
  sequences = []
  for ids in tokens:
    sequence = run.codec.decode_generated(ids, max_note_duration)
    if duration_seconds is not None:
      sequence = _trim(sequence, duration_seconds)
    sequences.append(sequence)
  return _write(run, sequences, output_dir, render_png, render_wav,
                primer_seconds)


def generate_tuples(run, output_dir, *, num_outputs=1, num_steps=None,
                    duration_seconds=None, temperature=1.0,
                    head_temperatures=None, primer_midi=None,
                    primer_pitches=None, seed=None, render_png=False,
                    render_wav=False):
  """Samples note tuples from a multi-head run (the note LSTM) and writes
  them as MIDI; returns the paths.

  Args:
    run: a loaded run of a multi-head model.
    num_steps: onsets to generate after the primer (default 1000); or
    duration_seconds: generate until each output lasts this long.
    temperature: every head's temperature, unless
    head_temperatures: one per head (chord, offset, duration), e.g.
      [1.0, 0.5, 0.5]: each head is sampled at its own
      (`sampler.sample_heads`).
    primer_midi, primer_pitches: what the outputs continue (`primer_events`;
      a MIDI primer is a window of real music, its onsets as the codec
      encodes them).
  """
  if num_steps is not None and duration_seconds is not None:
    raise UsageError('give one of --num_steps and --duration_seconds, not both')
  heads = run.model.head_names
  temperatures = (list(head_temperatures) if head_temperatures is not None
                  else [temperature] * len(heads))
  if len(temperatures) != len(heads) or min(temperatures) <= 0:
    raise UsageError(f'--head_temperatures needs {len(heads)} numbers > 0 '
                     f'({", ".join(heads)}), got {temperatures}')
  if temperature <= 0:
    raise UsageError(f'--temperature must be > 0, got {temperature}')

  def draw(tokens, steps, seed):
    return sampler.sample_heads(run.model, tokens, steps,
                                temperatures=temperatures, seed=seed)

  return _generate_tokens(run, output_dir, draw, num_outputs=num_outputs,
                          num_steps=num_steps, duration_seconds=duration_seconds,
                          seed=seed, primer_midi=primer_midi,
                          primer_pitches=primer_pitches, render_png=render_png,
                          render_wav=render_wav)


def _write(run, sequences, output_dir, render_png, render_wav, primer_seconds=0.0):
  """Writes each NoteSequence as MIDI (and .png/.wav); returns the paths."""
  os.makedirs(output_dir, exist_ok=True)
  paths = []
  for i, sequence in enumerate(sequences):
    stem = os.path.join(output_dir, f'{run.config.name}_{i:03d}')
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
               if extras else '', output_dir, run.step)
  return paths


def latent_walk(num_outputs, num_segments, latent_dim, latent_step, rng):
  """Noise [num_outputs, num_segments, latent_dim] for joined segments.

  Segment k's noise is sqrt(1 - a²)·z(k-1) + a·ε with a = `latent_step`:
  each vector is still standard normal (what the generator was trained
  on), and neighbouring segments are correlated (1 - a² ... a = 1 makes
  them independent, a = 0 repeats one segment).
  """
  z = rng.standard_normal((num_outputs, num_segments, latent_dim))
  keep = np.sqrt(1.0 - latent_step ** 2)
  for k in range(1, num_segments):
    z[:, k] = keep * z[:, k - 1] + latent_step * z[:, k]
  return z.astype(np.float32)


def generate_pianorolls(run, output_dir, *, num_outputs=1, num_bars=None,
                        binarize=None, threshold=0.5, latent_step=0.5,
                        seed=None, render_png=False, render_wav=False):
  """Samples piano rolls from a GAN run and writes them as MIDI.

  Args:
    run: a loaded piano-roll GAN run.
    num_bars: bars per output (default one segment). Longer outputs join
      segments end to end, generated from a latent walk (`latent_walk`), so
      neighbouring segments share material; the last one is cut to length.
    binarize: 'threshold' (the default: a cell sounds where its
      probability exceeds `threshold`) or 'bernoulli' (each cell drawn with
      its probability).
    latent_step: 0..1, how far the noise moves between joined segments.

  Returns:
    The paths of the MIDI files.
  """
  binarize = _binarize(binarize or 'threshold', threshold)
  if not 0 <= latent_step <= 1:
    raise UsageError(f'--latent_step must be in [0, 1], got {latent_step}')
  settings = run.codec.settings
  bars_per_segment = settings.num_bars
  num_bars = num_bars or bars_per_segment
  if num_bars < 1:
    raise UsageError(f'--num_bars must be at least 1, got {num_bars}')
  num_segments = -(-num_bars // bars_per_segment)
  rng = np.random.default_rng(seed)
  noise = latent_walk(num_outputs, num_segments, run.model.latent_dim,
                      latent_step, rng)
  probabilities = run.model(
      {'noise': noise.reshape(num_outputs * num_segments, -1)}).numpy()
  steps, pitches = run.codec.segment_shape
  probabilities = probabilities.reshape(num_outputs, num_segments * steps,
                                        pitches)
  probabilities = probabilities[:, :num_bars * settings.steps_per_bar]
  if binarize == 'threshold':
    rolls = probabilities > threshold
  else:
    rolls = rng.random(probabilities.shape) < probabilities
  sequences = [run.codec.decode(roll.astype(np.uint8)) for roll in rolls]
  return _write(run, sequences, output_dir, render_png, render_wav)


def _binarize(binarize, threshold):
  if binarize not in BINARIZE:
    raise UsageError(f'--binarize must be one of {BINARIZE}, got {binarize!r}')
  if not 0 < threshold < 1:
    raise UsageError(f'--threshold must be in (0, 1), got {threshold}')
  return binarize


def generate_frames(run, output_dir, *, num_outputs=1, num_steps=None,
                    duration_seconds=None, temperature=1.0, binarize=None,
                    threshold=0.5, primer_midi=None, primer_pitches=None,
                    seed=None, render_png=False, render_wav=False):
  """Samples frame rolls from a frame model (the piano-roll LSTM) and
  writes them as MIDI; returns the paths.

  Args:
    run: a loaded run of a frame model.
    num_steps: frames to generate after the primer (default 1000); or
    duration_seconds: the output's length, primer included, at the codec's
      tempo (`settings.qpm`).
    temperature: divides every bit's logit before its sigmoid.
    binarize: 'bernoulli' (the default: each bit drawn with its
      probability) or 'threshold' (set where its probability exceeds
      `threshold`); a key is held only after it sounded
      (`sampler.sample_frames`).
    primer_midi, primer_pitches: what the outputs continue
      (`primer_events`; frames of the primer).
  """
  if num_steps is not None and duration_seconds is not None:
    raise UsageError('give one of --num_steps and --duration_seconds, not both')
  if temperature <= 0:
    raise UsageError(f'--temperature must be > 0, got {temperature}')
  binarize = _binarize(binarize or 'bernoulli', threshold)
  codec = run.codec
  primer = primer_events(codec, primer_midi, primer_pitches)
  frames_per_second = codec.settings.steps_per_quarter * codec.settings.qpm / 60.0
  if duration_seconds is not None:
    num_steps = int(round(duration_seconds * frames_per_second)) - len(primer)
    if num_steps < 1:
      raise UsageError(
          f'the primer lasts {len(primer) / frames_per_second:.1f} s, as long '
          f'as --duration_seconds={duration_seconds:g} or longer: nothing would '
          'be generated; give a longer --duration_seconds or a shorter primer')
  elif num_steps is None:
    num_steps = DEFAULT_NUM_STEPS
  frames = sampler.sample_frames(
      run.model, np.tile(primer[None], (num_outputs, 1, 1)), num_steps,
      temperature=temperature, binarize=binarize, threshold=threshold, seed=seed)
  primer_seconds = (len(primer) / frames_per_second
                    if primer_midi or primer_pitches else 0.0)
  return _write(run, [codec.decode(f) for f in frames], output_dir, render_png,
                render_wav, primer_seconds)


def _trim(sequence, seconds):
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


# config.train.objective -> (generator, the options it takes).
_GENERATORS = {
    'next_token': (generate_events, EVENT_OPTIONS),
    'adversarial': (generate_pianorolls, PIANOROLL_OPTIONS),
    'multi_label': (generate_frames, FRAME_OPTIONS),
    'multi_head': (generate_tuples, TUPLE_OPTIONS),
}
