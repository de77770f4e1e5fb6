"""Helpers the tests share: fixture paths, MIDI built in code, TFRecord reads,
folders made once per test run (`made_once`), and musicrnn's programs and
the benchmarks run in this process (`run_program`)."""

import os
import re
import shutil

import note_seq
import numpy as np
from note_seq.protobuf import music_pb2
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The logical CPU devices conftest.py splits the CPU into, for MirroredStrategy
# in the test process.
MIRRORED_CPU_DEVICES = 2
TESTDATA = os.path.join(REPO_ROOT, 'tests', 'testdata')
# The development corpora (../shared/data beside the checkout); absent on a
# user's fresh clone, where the tests that need them skip.
SHARED_DATA = os.environ.get(
    'MUSICRNN_SHARED_DATA',
    os.path.join(os.path.dirname(REPO_ROOT), 'shared', 'data'))

requires_shared_data = pytest.mark.skipif(
    not os.path.isdir(SHARED_DATA),
    reason=f'development corpora not found at {SHARED_DATA}')


# How the session's tiny runs (conftest.py's tiny_runs) train, with the
# learning rate of tiny_config: six loss records, checkpoints at 30 and 60.
TINY_RUN = dict(num_steps=60, seed=1, log_every=10, eval_every=60,
                checkpoint_every=30)
# conftest.py's music_vae_run: the tiny MusicVAE's 30 steps.
MUSIC_VAE_RUN = dict(num_steps=30, seed=1, log_every=5, eval_every=30,
                     checkpoint_every=30)
# The other event families the session trains (conftest.py's family_runs),
# each with the tiny dataset it trains on: the transformer and the CNN use
# the performance encoding with 32 velocity bins, as performance_with_dynamics.
FAMILIES = {
    'polyphony_tiny': 'polyphony_tiny',
    'music_transformer_tiny': 'music_transformer_tiny',
    'dilated_cnn_tiny': 'music_transformer_tiny',
}


def tiny_config(name, **overrides):
  """A tiny config with the learning rate the tests train it at (1e-2)."""
  from musicrnn import configs  # pylint: disable=import-outside-toplevel
  config = configs.get_config(name)
  configs.apply_overrides(config, overrides={'train.learning_rate': 1e-2,
                                             **overrides})
  return config


# What only libraries print, never a musicrnn program's console: Beam
# workers' logging, TensorFlow's C++ start-up, pydub's missing ffmpeg.
LIBRARY_LINES = re.compile(
    r'^(INFO|DEBUG):|apitools|semi_persistent|cudart_stub|cuInit|'
    r'absl::InitializeLog|oneDNN|cpu_feature_guard|Couldn.t find ffmpeg')


def run_folder(tmp_path_factory, name):
  """A folder `name` that every worker of this test run shares (under
  pytest-xdist, in the run's folder above each worker's own)."""
  base = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    base = base.parent
  folder = base / name
  folder.mkdir(exist_ok=True)
  return folder


def made_once(tmp_path_factory, name, make):
  """(folder, value): `make(folder)` run once in this test run, its value
  pickled beside the folder. Under pytest-xdist the first worker to ask
  makes it while the others wait, then all read the same folder: a fixture
  that builds a dataset or trains a run shares it with every worker (copy
  the folder before changing it)."""
  # pylint: disable=import-outside-toplevel
  import fcntl
  import pickle
  root = run_folder(tmp_path_factory, 'made_once')
  folder, value = root / name, root / f'{name}.pickle'
  with open(root / f'{name}.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not value.exists():
      shutil.rmtree(folder, ignore_errors=True)
      folder.mkdir()
      made = make(str(folder))
      with open(str(value) + '.tmp', 'wb') as f:
        pickle.dump(made, f)
      os.rename(str(value) + '.tmp', value)
    with open(value, 'rb') as f:
      return str(folder), pickle.load(f)


def testdata(*parts):
  return os.path.join(TESTDATA, *parts)


def make_sequence(pitches, qpm=120.0, seconds_per_note=0.5, velocity=80):
  """A monophonic NoteSequence, one note per pitch, back to back."""
  sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(time=0.0, qpm=qpm)
  for i, pitch in enumerate(pitches):
    sequence.notes.add(pitch=pitch, velocity=velocity,
                       start_time=i * seconds_per_note,
                       end_time=(i + 1) * seconds_per_note)
  sequence.total_time = len(pitches) * seconds_per_note
  return sequence


# A melody of quarter notes that runs a new way through the scale each bar.
TRIO_MELODY = (60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77)


def add_notes(sequence, instrument, program, bars, pitches, quarters=1.0,
              length=None, is_drum=False, velocity=80):
  """Adds notes of `pitches` in turn, one every `quarters` quarter notes
  (each `length` quarters long, default `quarters`), through each bar of
  `bars` (4/4 at 120 qpm: a quarter is 0.5 s, a bar 2 s); returns the
  sequence."""
  length = quarters if length is None else length
  per_bar = int(round(4 / quarters))
  for bar in bars:
    for k in range(per_bar):
      start = bar * 2.0 + k * quarters * 0.5
      pitch = pitches[(bar * per_bar + k) % len(pitches)]
      sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start,
                         end_time=start + length * 0.5, instrument=instrument,
                         program=program, is_drum=is_drum)
  sequence.total_time = max([sequence.total_time]
                            + [n.end_time for n in sequence.notes])
  return sequence


def trio_song(bars=20, numerator=4, melody=True, bass=True, drums=True,
              shift=0):
  """A MusicVAE trio, 120 qpm, `bars` bars: a melody (instrument 0,
  program 0: TRIO_MELODY in quarter notes), a bass (instrument 1, program
  33: half notes) and drums (instrument 9: kick, hi-hat and snare in
  eighths), each where asked; melody and bass moved `shift` semitones."""
  sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(time=0.0, qpm=120.0)
  sequence.time_signatures.add(time=0.0, numerator=numerator, denominator=4)
  if melody:
    add_notes(sequence, 0, 0, range(bars), [p + shift for p in TRIO_MELODY])
  if bass:
    add_notes(sequence, 1, 33, range(bars),
              [p + shift for p in (36, 43, 41, 38, 40)], 2.0)
  if drums:
    add_notes(sequence, 9, 0, range(bars), [36, 42, 38, 42, 36, 36, 38, 46],
              0.5, 0.25, is_drum=True)
  return sequence


def write_midi(path, sequence):
  note_seq.sequence_proto_to_midi_file(sequence, path)
  return path


def copy_into(src, dst_dir, name=None):
  os.makedirs(dst_dir, exist_ok=True)
  dst = os.path.join(dst_dir, name or os.path.basename(src))
  shutil.copyfile(src, dst)
  return dst


def read_notesequences(paths):
  """Every NoteSequence in the given TFRecord files, keyed by id."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  sequences = {}
  for record in tf.data.TFRecordDataset(list(paths)):
    sequence = music_pb2.NoteSequence.FromString(record.numpy())
    assert sequence.id not in sequences, f'duplicate id {sequence.id}'
    sequences[sequence.id] = sequence
  return sequences


def without_identity(sequence):
  """A copy without the fields musicrnn sets (id, filename, collection)."""
  copy = music_pb2.NoteSequence()
  copy.CopyFrom(sequence)
  copy.ClearField('id')
  copy.ClearField('filename')
  copy.ClearField('collection_name')
  return copy


def check_model_round_trips(model, make_twin, inputs, tmp_dir):
  """A Keras model's config, .keras file and tf.train.Checkpoint all give
  back a model with the same outputs, and the checkpoint holds every weight.

  Args:
    model: a built model.
    make_twin: () -> a fresh model of the same settings, not yet built.
    inputs: an input dict for both.
    tmp_dir: a pathlib folder for the files.
  """
  # pylint: disable=import-outside-toplevel
  import keras
  import numpy as np
  import tensorflow as tf
  before = keras.ops.convert_to_numpy(model(inputs))
  clone = type(model).from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  path = str(tmp_dir / 'model.keras')
  model.save(path)
  np.testing.assert_allclose(
      keras.ops.convert_to_numpy(keras.saving.load_model(path)(inputs)), before,
      atol=1e-6)
  saved = tf.train.Checkpoint(model=model).save(str(tmp_dir / 'ckpt'))
  names = [n for n, _ in tf.train.list_variables(saved) if n.startswith('model/')]
  assert len(names) == len(model.weights)
  twin = make_twin()
  twin(inputs)
  tf.train.Checkpoint(model=twin).restore(saved).assert_consumed()
  np.testing.assert_allclose(keras.ops.convert_to_numpy(twin(inputs)), before,
                             atol=1e-6)


def random_event_inputs(rng, batch, time, vocab, controls):
  """A random model input dict: token ids in [0, vocab) and, for the names
  in `controls`, note-density classes and normalised pitch histograms."""
  inputs = {'tokens': rng.integers(0, vocab, size=(batch, time)).astype('int32')}
  if 'note_density' in controls:
    inputs['note_density'] = rng.integers(0, 8, size=(batch, time)).astype('int32')
  if 'pitch_histogram' in controls:
    histogram = rng.random((batch, time, 12)).astype('float32')
    inputs['pitch_histogram'] = histogram / histogram.sum(-1, keepdims=True)
  return inputs


# Programs run in this process. Each musicrnn entry point (and benchmark)
# defines its flags on absl's global FLAGS, several under the same names
# (--config, --run_dir, --output_json): before a program runs, the flags of
# every other program are dropped and its module is loaded again, so that it
# parses its command line from its own flags at their defaults.
ENTRY_POINTS = ('musicrnn.convert', 'musicrnn.create_dataset', 'musicrnn.train',
                'musicrnn.generate', 'musicrnn.evaluate', 'musicrnn.quickstart',
                'musicrnn.import_magenta', 'musicrnn.export')
BENCHMARKS = os.path.join(REPO_ROOT, 'benchmarks')
_PROGRAMS = set(ENTRY_POINTS)


class ProgramResult:
  """What a program run in this process left: as subprocess.run's result."""

  def __init__(self, args, returncode, stdout, stderr):
    self.args = args
    self.returncode = returncode
    self.stdout = stdout
    self.stderr = stderr

  def __repr__(self):
    return (f'ProgramResult({self.args}, returncode={self.returncode}, '
            f'stderr={self.stderr[-2000:]!r})')


def import_benchmark_library(module_name):
  """A module of benchmarks/ that defines no flags (smoke_data, say)."""
  # pylint: disable=import-outside-toplevel
  import importlib
  import sys
  sys.path.insert(0, BENCHMARKS)
  try:
    return importlib.import_module(module_name)
  finally:
    sys.path.remove(BENCHMARKS)


def _load_program(module_name):
  # pylint: disable=import-outside-toplevel
  import importlib
  import sys
  from absl import flags
  _PROGRAMS.add(module_name)
  for name in list(flags.FLAGS):
    if flags.FLAGS.find_module_defining_flag(name) in _PROGRAMS:
      delattr(flags.FLAGS, name)
  if module_name in sys.modules:
    return importlib.reload(sys.modules[module_name])
  return importlib.import_module(module_name)


def load_program(module_name):
  """A program's module (a benchmark: benchmarks/<module_name>.py) loaded
  as `run_program` loads it, to call its functions from a test."""
  # pylint: disable=import-outside-toplevel
  import sys
  saved_path = list(sys.path)
  try:
    if not module_name.startswith('musicrnn.'):
      sys.path.insert(0, BENCHMARKS)
    return _load_program(module_name)
  finally:
    sys.path[:] = saved_path


def run_program(module_name, *args, cwd=None):
  """Runs a program's `main` in this process, as `python -m module_name args`
  runs it (a benchmark: `python benchmarks/<module_name>.py args`), and
  returns its exit status and what it printed (its own lines: the log lines
  of musicrnn and the program, not those libraries write to descriptor 2).

  An exception the program does not turn into an exit status propagates.
  """
  # pylint: disable=import-outside-toplevel
  import contextlib
  import io
  import logging
  import sys
  from absl import app
  from absl import flags
  benchmark = not module_name.startswith('musicrnn.')
  stdout, stderr = io.StringIO(), io.StringIO()
  saved_argv, saved_path, saved_cwd = sys.argv, list(sys.path), os.getcwd()
  # cli.run sets the console's logging up; this process's is put back after.
  root, tf_logger = logging.getLogger(), logging.getLogger('tensorflow')
  saved_logging = root.handlers[:], root.level, tf_logger.level
  code = None
  try:
    if benchmark:
      sys.path.insert(0, BENCHMARKS)   # as a script: its folder comes first
    module = _load_program(module_name)
    # A program's --help lists the flags of the module sys.argv[0] names.
    for flag in flags.FLAGS.get_flags_for_module(module_name):
      flags.FLAGS.register_flag_by_module(module.__file__, flag)
    flags.FLAGS.unparse_flags()
    sys.argv = [module.__file__, *args]
    if cwd is not None:
      os.chdir(cwd)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
      try:
        if benchmark:
          app.run(module.main)
        else:
          module.run()
      except SystemExit as e:
        code = e.code
  finally:
    sys.argv = saved_argv
    sys.path[:] = saved_path
    os.chdir(saved_cwd)
    root.handlers[:] = saved_logging[0]
    root.setLevel(saved_logging[1])
    tf_logger.setLevel(saved_logging[2])
    for name in list(flags.FLAGS):   # another program may define them next
      if flags.FLAGS.find_module_defining_flag(name) == module_name:
        delattr(flags.FLAGS, name)
  if isinstance(code, str):    # sys.exit('message'): printed, status 1
    stderr.write(code + '\n')
    code = 1
  return ProgramResult([module_name, *args], code or 0, stdout.getvalue(),
                       stderr.getvalue())


# The folder musicrnn_convert's tests read: music in sub-folders, broken
# files (by the reason each fails), junk and a duplicate.
CONVERT_BROKEN = {
    'test-empty-file.mid': 'empty_file',
    'test-empty.mid': 'no_notes',
    'test-not-a-midi-file.mid': 'midi_parse_error',
    'test-corrupt-file-missing-byte.mid': 'midi_parse_error',
    'test-non-midi-track.mid': 'midi_parse_error',
    'test-2-tracks-type-2.mid': 'unsupported_midi_type',
    'broken.mxl': 'musicxml_parse_error',
    'absurd_tempo.mid': 'absurd_tempo',
}
CONVERT_GOOD_MIDI = ['chpn-p7.mid', 'chpn-p10.mid', 'chpn-p20.mid', 'karaoke.kar']


def make_convert_input_dir(root):
  """A folder as users have them: music in sub-folders, junk, a duplicate."""
  for name in CONVERT_GOOD_MIDI:
    copy_into(testdata('midi', name), os.path.join(root, 'chopin'))
  copy_into(testdata('musicxml', 'two_bars.musicxml'), os.path.join(root, 'scores'))
  copy_into(testdata('musicxml', 'two_bars.mxl'), os.path.join(root, 'scores'),
            'TWO_BARS.MXL')
  copy_into(testdata('abc', 'tunebook.abc'), os.path.join(root, 'folk'))
  for name in CONVERT_BROKEN:
    if name != 'absurd_tempo.mid':
      copy_into(testdata('broken', name), os.path.join(root, 'broken'))
  write_midi(os.path.join(root, 'broken', 'absurd_tempo.mid'),
             make_sequence([60, 64], qpm=20000))
  # A byte-identical copy under another name and letter case.
  copy_into(testdata('midi', 'chpn-p7.mid'), os.path.join(root, 'copies'),
            'Prelude7.MID')
  with open(os.path.join(root, 'README.txt'), 'w') as f:
    f.write('not music\n')
  return root


def disallowed_draws(grammar, tokens, start):
  """[(row, position, token)] of the tokens at positions >= `start` of int
  [batch, length] `tokens` that `grammar` does not allow in the state the
  tokens before them leave (NumPy)."""
  tokens = np.asarray(tokens)
  states = grammar.states(tokens)
  found = []
  for t in range(start, tokens.shape[1]):
    for row in np.flatnonzero(~grammar.allows(states[t], tokens[:, t])):
      found.append((int(row), t, int(tokens[row, t])))
  return found


def write_benchmark_mat(path, splits):
  """Writes {'train', 'valid', 'test': [0/1 [frames, 88] per piece]} as a
  file of the 2012 polyphonic benchmark (`traindata`, `validdata`,
  `testdata`: a cell array of pieces each)."""
  import scipy.io  # pylint: disable=import-outside-toplevel
  names = {'train': 'traindata', 'valid': 'validdata', 'test': 'testdata'}
  contents = {}
  for split, name in names.items():
    cells = np.empty((1, len(splits[split])), dtype=object)
    for i, piece in enumerate(splits[split]):
      cells[0, i] = np.asarray(piece, np.uint8)
    contents[name] = cells
  scipy.io.savemat(path, contents)


def random_benchmark_splits(seed=1, sizes=(('train', (12, 20, 7, 30)),
                                           ('valid', (9, 15)),
                                           ('test', (11, 1, 25)))):
  """Random sparse pieces of 88 keys per split (a piece of 1 frame has
  nothing a sequence model predicts)."""
  rng = np.random.default_rng(seed)
  return {split: [(rng.random((n, 88)) < 0.08).astype(np.uint8) for n in ns]
          for split, ns in sizes}


def write_magenta_bundle(path, generator_id, checkpoint, metagraph):
  """A Magenta `.mag` (note-seq's GeneratorBundle) at `path` holding the
  checkpoint file and metagraph the test wrote; returns `path`."""
  from note_seq.protobuf import generator_pb2  # pylint: disable=import-outside-toplevel
  bundle = generator_pb2.GeneratorBundle()
  bundle.generator_details.id = generator_id
  bundle.generator_details.description = 'written by a musicrnn test'
  with open(checkpoint, 'rb') as f:
    bundle.checkpoint_file.append(f.read())
  with open(metagraph, 'rb') as f:
    bundle.metagraph_file = f.read()
  with open(path, 'wb') as f:
    f.write(bundle.SerializeToString())
  return path


def check_decoder_steps(model, z, ids, full, atol=1e-5):
  """A latent-variable model's decoder run a step at a time (compiled),
  fed `ids` [batch, time], gives the teacher-forced logits `full` of every
  step."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  step = tf.function(model.decoder_step)
  states = model.decoder_initial_state(z)
  previous = np.full(len(ids), -1, np.int32)
  for t in range(ids.shape[1]):
    logits, states = step(previous, states, tf.constant(t))
    np.testing.assert_allclose(np.asarray(logits), full[:, t], atol=atol)
    previous = ids[:, t]
