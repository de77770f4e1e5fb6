r"""musicrnn_generate: sample MIDI from a trained run.

  musicrnn_generate --run_dir=/tmp/perf_run --output_dir=/tmp/samples \
    --num_outputs=8 --num_steps=2000 --primer_pitches="[60,64,67]"
  musicrnn_generate --bundle_file=performance_with_dynamics.mag \
    --output_dir=/tmp/samples --num_steps=2000     # or a musicrnn .mrnn file
  musicrnn_generate --run_dir=/tmp/polyphony_run --output_dir=/tmp/samples \
    --num_bars=8 --qpm=100 --primer_melody="[60, -2, 60, -2, 67, -2, 67, -2]"
  musicrnn_generate --run_dir=/tmp/vae_run --output_dir=/tmp/steps \
    --mode=interpolate --input_midi_1=a.mid --input_midi_2=b.mid \
    --num_outputs=5 --temperature=0.5
  musicrnn_generate --run_dir=/tmp/vae_run --output_dir=/tmp/denser \
    --mode=reconstruct --input_midi=a.mid --attribute_vector=density.npy \
    --attribute_scale=1.5

Conditional configs take a flag per control signal they were trained with
(`musicrnn.encodings.controls.CONTROLS`; each flag's help gives its form and
Magenta's default); a control's flag is an error for a model trained without
it.
"""

import ast
import os
import shutil
import tempfile

from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.generate`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn import tasks
from musicrnn.encodings import controls
from musicrnn.errors import UsageError
from musicrnn.generation import primers
from musicrnn.runs import generate
# pylint: enable=wrong-import-position

flags.DEFINE_string('run_dir', None, 'A run directory written by musicrnn_train.')
flags.DEFINE_string('bundle_file', None,
                    'A model file to generate from instead of --run_dir: '
                    'musicrnn_export\'s .mrnn, or a Magenta .mag bundle '
                    '(Performance, Polyphony, Melody or Drums RNN, '
                    'Pianoroll RNN-NADE).')
flags.DEFINE_string('output_dir', None, 'Where to write the MIDI files.')
flags.DEFINE_integer('num_outputs', 1,
                     'Number of files to generate (--mode=interpolate: the '
                     'steps from --input_midi_1 to --input_midi_2, both '
                     'included, written with one more file of them joined).',
                     lower_bound=1)
flags.DEFINE_enum('mode', 'sample', tasks.every_mode(),
                  'sample: draw new music (every model); interpolate: '
                  'MusicVAE, from --input_midi_1 to --input_midi_2 through '
                  'the latent space; reconstruct: MusicVAE, --input_midi '
                  'encoded and decoded.')
flags.DEFINE_string('input_midi', None,
                    '--mode=reconstruct: the music (MIDI, MusicXML or ABC) to '
                    'encode; its first window of the model\'s length (e.g. '
                    'its first 2-bar melody) is read.')
flags.DEFINE_string('input_midi_1', None,
                    '--mode=interpolate: the music the interpolation starts '
                    'from (its first window, as --input_midi).')
flags.DEFINE_string('input_midi_2', None,
                    '--mode=interpolate: the music the interpolation ends on.')
flags.DEFINE_string('attribute_vector', None,
                    'MusicVAE: a latent direction (a .npy file of '
                    'musicrnn_attribute_vector) added to every z, times '
                    '--attribute_scale.')
flags.DEFINE_float('attribute_scale', 1.0,
                   'MusicVAE: how much of --attribute_vector to add (negative: '
                   'take away).')
flags.DEFINE_integer('num_steps', None,
                     'Events to generate after the primer (default 1000; for '
                     'Melody and Drums RNN, one event is a 16th-note step).')
flags.DEFINE_float('duration_seconds', None,
                   'Generate until each output lasts this long (instead of '
                   '--num_steps).')
flags.DEFINE_float('temperature', 1.0, 'Softmax temperature (> 0).')
flags.DEFINE_string('head_temperatures', None,
                    'Note LSTM: a temperature per head, chord, offset and '
                    'duration, e.g. "[1.0,0.5,0.5]" (default: --temperature '
                    'for each).')
flags.DEFINE_integer('top_k', 0, 'Sample among the k likeliest events (0: all).')
flags.DEFINE_float('top_p', 1.0, 'Nucleus sampling mass (1: off).')
flags.DEFINE_integer('seed', None, 'Random seed: the same seed gives the same MIDI.')
flags.DEFINE_string('primer_midi', None, 'A MIDI file to continue.')
flags.DEFINE_string('primer_frames', None,
                    'Frames to continue, for models of frames of sounding keys '
                    '(key_frames, frame_events: the 2012 benchmark\'s): a NumPy '
                    '.npy file of 0/1 [frames, 88].')
flags.DEFINE_string('primer_pitches', None,
                    'A starting chord, e.g. "[60,64,67]" (a quarter note at '
                    '--qpm).')
flags.DEFINE_string('primer_melody', None,
                    'A starting melody as Magenta\'s --primer_melody: note-seq '
                    'melody events, one per 16th-note step, e.g. "[60, -2, 60, '
                    '-2, 67, -2, 67, -2]" (a MIDI pitch starts a note, -2 '
                    'holds it, -1 ends it), at --qpm. Primes any model of '
                    'notes.')
flags.DEFINE_string('primer_drums', None,
                    'Starting drums as Magenta\'s --primer_drums: the drum '
                    'pitches struck at each 16th-note step, e.g. "[(36,), (), '
                    '(42,), (36, 42)]", at --qpm. Primes a drums model.')
flags.DEFINE_float('qpm', None,
                   'Quarter notes per minute of --primer_pitches, '
                   '--primer_melody and --primer_drums (default 120, '
                   'Magenta\'s), and the tempo outputs are written at by an '
                   'encoding of quarter notes (polyphony, frames, note tuples, '
                   'melody, drums; default: the tempo it was trained with, '
                   '120 unless set); a --primer_midi keeps its own tempo.')
flags.DEFINE_string('backing_chords', None,
                    'Improv RNN (lead_sheet runs): the chords to improvise '
                    'over, chord symbols separated by spaces, e.g. "C G Am F" '
                    '(N.C. for none); default "C G Am F C G F C", Magenta\'s. '
                    'The output spans them once, primer included, unless a '
                    'length is given (then they repeat).')
flags.DEFINE_integer('steps_per_chord', tasks.every_option()['steps_per_chord'],
                     'Improv RNN: the 16th-note steps each backing chord '
                     'lasts (16: a 4/4 bar).')
flags.DEFINE_bool('render_chords', False,
                  'Improv RNN: also play the backing chords as notes in the '
                  'output (they are always written as chord symbols: MIDI '
                  'text events).')
# One flag per control signal; each control parses its own text.
for _control in controls.CONTROLS:
  flags.DEFINE_string(_control.flag, None, _control.flag_help)

flags.DEFINE_integer('beam_size', 1,
                     'Sequences kept by beam search (1 with --branch_factor=1: '
                     'plain sampling).', lower_bound=1)
flags.DEFINE_integer('branch_factor', 1,
                     'Copies each beam branches into per iteration.',
                     lower_bound=1)
flags.DEFINE_integer('steps_per_iteration', 1,
                     'Beam search: events generated between prunings.',
                     lower_bound=1)
flags.DEFINE_float('max_note_duration', tasks.every_option()['max_note_duration'],
                   'Performance encodings: end a note still on after this many '
                   'seconds, as Magenta does (0: let it sound to the end).',
                   lower_bound=0.0)
flags.DEFINE_bool('state_masks', tasks.every_option()['state_masks'],
                  'Never draw an event that cannot mean anything in the music '
                  'so far (a NOTE_OFF of a silent pitch, a step out of the '
                  'encoding\'s order, ...), and read a note struck again '
                  'while it sounds as ending it; --nostate_masks samples the '
                  'model as it is.')
flags.DEFINE_integer('max_polyphony', tasks.every_option()['max_polyphony'],
                     'Start no note while this many sound (the polyphony '
                     'encoding: at most this many notes a step; the note LSTM: '
                     'no chord of more notes); 0: no limit.', lower_bound=0)
flags.DEFINE_enum('mask_renormalisation',
                  tasks.every_option()['mask_renormalisation'],
                  ['by_type', 'all'],
                  'Where the state masks put the probability they take away: '
                  'by_type keeps a NOTE_OFF\'s with the NOTE_OFFs of the '
                  'notes that sound (the model chose to end a note; the masks '
                  'choose which); all spreads it over every allowed event.')
flags.DEFINE_bool('render_png', False,
                  'Also write a piano-roll .png per output (the primer shaded).')
flags.DEFINE_bool('render_wav', False,
                  'Also write a .wav per output (rendered by midirenderer '
                  'with pretty_midi\'s General MIDI soundfont).')

flags.DEFINE_integer('num_bars', None,
                     'Metric encodings (melody, drums, polyphony, frames): '
                     'bars to generate after the primer instead of '
                     '--num_steps, each steps_per_quarter x 4 steps (16 '
                     '16th-note steps in 4/4). Piano-roll GAN: bars per '
                     'output (default one segment); longer outputs join '
                     'segments along a latent walk.')
flags.DEFINE_enum('binarize', None, ['threshold', 'bernoulli'],
                  'Piano rolls: how cell probabilities become notes (default: '
                  'threshold for the piano-roll GAN, bernoulli for the '
                  'piano-roll LSTM and the RNN-NADE, whose threshold 0.5 is '
                  'Magenta\'s greedy frame).')
flags.DEFINE_float('threshold', 0.5,
                   'Piano rolls: probability above which a cell sounds '
                   '(--binarize=threshold).')
flags.DEFINE_float('latent_step', 0.5,
                   'Piano-roll GAN: how far the noise moves between joined '
                   'segments, 0 (repeat) to 1 (independent).')

FLAGS = flags.FLAGS


def _list_flag(name):
  text = FLAGS[name].value
  if text is None:
    return None
  try:
    value = ast.literal_eval(text)
  except (ValueError, SyntaxError) as e:
    raise UsageError(f'--{name}={text} is not a Python list of numbers') from e
  if not isinstance(value, (list, tuple)) or not all(
      isinstance(v, (int, float)) for v in value):
    raise UsageError(f'--{name}={text} is not a list of numbers')
  return list(value)


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('output_dir')
  if bool(FLAGS.run_dir) == bool(FLAGS.bundle_file):
    raise UsageError('give --run_dir (a musicrnn run) or --bundle_file (an '
                     '.mrnn model file or a Magenta .mag bundle)')
  if FLAGS.bundle_file:
    folder = tempfile.mkdtemp(prefix='musicrnn-bundle-')
    run_dir = os.path.join(folder, 'run')
    try:
      _generate(generate.run_of_model_file(FLAGS.bundle_file, run_dir))
    finally:
      shutil.rmtree(folder, ignore_errors=True)
  else:
    _generate(FLAGS.run_dir)


def _generate(run_dir):
  paths = generate.generate(
      run_dir, FLAGS.output_dir, num_outputs=FLAGS.num_outputs,
      num_steps=FLAGS.num_steps, duration_seconds=FLAGS.duration_seconds,
      max_note_duration=FLAGS.max_note_duration,
      temperature=FLAGS.temperature,
      head_temperatures=_list_flag('head_temperatures'),
      top_k=FLAGS.top_k, top_p=FLAGS.top_p,
      seed=FLAGS.seed, primer_midi=FLAGS.primer_midi,
      primer_pitches=_list_flag('primer_pitches'),
      primer_frames=FLAGS.primer_frames,
      primer_melody=primers.parse_melody(FLAGS.primer_melody),
      primer_drums=primers.parse_drums(FLAGS.primer_drums), qpm=FLAGS.qpm,
      backing_chords=FLAGS.backing_chords,
      steps_per_chord=FLAGS.steps_per_chord, render_chords=FLAGS.render_chords,
      **{control.flag: control.parse_flag(FLAGS[control.flag].value)
         for control in controls.CONTROLS},
      render_png=FLAGS.render_png, render_wav=FLAGS.render_wav,
      beam_size=FLAGS.beam_size, branch_factor=FLAGS.branch_factor,
      steps_per_iteration=FLAGS.steps_per_iteration,
      state_masks=FLAGS.state_masks, max_polyphony=FLAGS.max_polyphony,
      mask_renormalisation=FLAGS.mask_renormalisation,
      num_bars=FLAGS.num_bars, binarize=FLAGS.binarize, threshold=FLAGS.threshold,
      latent_step=FLAGS.latent_step, mode=FLAGS.mode,
      input_midi=FLAGS.input_midi, input_midi_1=FLAGS.input_midi_1,
      input_midi_2=FLAGS.input_midi_2, attribute_vector=FLAGS.attribute_vector,
      attribute_scale=FLAGS.attribute_scale)
  for path in paths:
    print(path)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
