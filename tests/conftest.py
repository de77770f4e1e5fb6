"""pytest configuration: tests import `testing_lib` from this folder.

The tiny datasets and briefly trained runs below are made once per test run:
under pytest-xdist, by the first worker that asks for one, while the others
wait for it and then read the same folder. Each is made when a test first
asks for it. Tests copy a shared folder before they change it.
"""

import collections.abc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Keep TensorFlow's C++ start-up chatter out of test logs.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# TensorFlow's own kernels instead of oneDNN's in this process (read once,
# when TensorFlow is imported; `tensorflow_for_tests` takes the setting out
# of the environment again, so the processes tests start run as users run).
# On the tiny models of the tests oneDNN's per-op set-up outweighs its
# kernels: tests/test_train.py with tests/test_compiled_step.py took 80-86 s
# without it, 92-100 s with it.
_ONEDNN_BEFORE = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')


import pytest  # noqa: E402

import testing_lib  # noqa: E402


@pytest.fixture(scope='session', autouse=True)
def tensorflow_for_tests(tmp_path_factory):
  """Sets up TensorFlow before any test starts its runtime:

  - Splits the CPU into testing_lib.MIRRORED_CPU_DEVICES logical devices (as
    musicrnn_train --strategy=mirrored --cpu_devices=2 does), so
    MirroredStrategy runs in the test process; ops without a device keep
    running on the first, as on an unsplit CPU.
  - Shares XLA's compiled programs between the tests and workers of this
    test run (TensorFlow's persistent compilation cache, in a folder of the
    run): the tests compile the same tiny models' steps and sampling loops
    many times, and a program is reused only when its HLO is the same, byte
    for byte.
  - Compiles for a tiny model's sake: XLA without LLVM's costly passes (the
    tiny GAN's 6-step run took 22-23 CPU seconds, 17-18 without them; a
    tiny model's step is quick either way), and TensorFlow's graphs without
    Grappler's rewrites (a tiny event-LSTM run: 8.4 CPU seconds, 6.9
    without). Tests that compare compiled and uncompiled steps still
    compare XLA with TensorFlow's own kernels. The processes tests start
    (the quick start, killed and resumed runs, multi-worker training)
    inherit none of this and run as users run.
  """
  cache = testing_lib.run_folder(tmp_path_factory, 'xla_cache')
  settings = {
      'TF_XLA_FLAGS': f'--tf_xla_persistent_cache_directory={cache}',
      'XLA_FLAGS': '--xla_backend_optimization_level=0 '
                   '--xla_llvm_disable_expensive_passes=true'}
  before = {name: os.environ.get(name) for name in settings}
  for name, value in settings.items():
    os.environ[name] = ' '.join(filter(None, [before[name], value]))
  try:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices('CPU')[0],
        [tf.config.LogicalDeviceConfiguration()] * testing_lib.MIRRORED_CPU_DEVICES)
    tf.config.optimizer.set_experimental_options({'disable_meta_optimizer': True})
    # TensorFlow and XLA read their flags once, at the first XLA compile.
    tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1))
  finally:
    if _ONEDNN_BEFORE is None:
      os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None)
    for name, value in before.items():
      if value is None:
        del os.environ[name]
      else:
        os.environ[name] = value


CORPUS = os.path.join(testing_lib.REPO_ROOT, 'musicrnn', 'quickstart_corpus')
# The configs of tiny_datasets; music_transformer_tiny's data (whole pieces
# for random crops) serves dilated_cnn_tiny too: the same encoding and data
# settings.
TINY_DATASETS = ('performance_with_dynamics_tiny',
                 'multiconditioned_performance_with_dynamics_tiny', 'polyphony_tiny',
                 'music_transformer_tiny')


class _Lazy(collections.abc.Mapping):
  """{name: make(name)}, each made when first looked up."""

  def __init__(self, names, make):
    self._names = tuple(names)
    self._make = make
    self._made = {}

  def __getitem__(self, name):
    if name not in self._names:
      raise KeyError(name)
    if name not in self._made:
      self._made[name] = self._make(name)
    return self._made[name]

  def __iter__(self):
    return iter(self._names)

  def __len__(self):
    return len(self._names)


def _converted(tmp_path_factory, name, input_dir):
  """NoteSequences of a folder, converted once per test run."""
  # pylint: disable=import-outside-toplevel
  from musicrnn.pipelines import convert

  def make(folder):
    path = os.path.join(folder, 'ns.tfrecord')
    convert.convert_directory(input_dir, path)
    return path

  return testing_lib.made_once(tmp_path_factory, name, make)[1]


def _dataset(tmp_path_factory, name, notesequences, eval_ratio):
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.pipelines import dataset

  def make(folder):
    path = os.path.join(folder, 'dataset')
    dataset.create_dataset(configs.get_config(name), notesequences, path,
                           eval_ratio=eval_ratio)
    return path

  return testing_lib.made_once(tmp_path_factory, name, make)[1]


def _run(tmp_path_factory, name, data, **settings):
  """(run folder, TrainSummary) of `name` trained on `data`, once."""
  # pylint: disable=import-outside-toplevel
  from musicrnn.training import trainer

  def make(folder):
    run_dir = os.path.join(folder, 'run')
    summary = trainer.train(testing_lib.tiny_config(name), data, run_dir,
                            progress=False, **settings)
    return run_dir, summary

  return testing_lib.made_once(tmp_path_factory, f'run_{name}', make)[1]


@pytest.fixture(scope='session')
def frame_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny frame-roll dataset (pianoroll_lstm_tiny; the focal config's data
  is the same) of the committed fixtures, half of them eval: the bundled
  corpus changes tempo every beat, too often for 32-frame examples."""
  return _dataset(tmp_path_factory, 'pianoroll_lstm_tiny', fixture_notesequences,
                  eval_ratio=0.5)


@pytest.fixture(scope='session')
def key_frame_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny dataset of the 2012 benchmark's frames (tcn_tiny: key_frames,
  a quarter note per frame; frames_lstm_tiny's data is the same) of the
  committed fixtures, half of them eval."""
  return _dataset(tmp_path_factory, 'tcn_tiny', fixture_notesequences,
                  eval_ratio=0.5)


@pytest.fixture(scope='session')
def nade_frame_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny key-frame dataset (rnn-nade_tiny; the attention config's data is
  the same) of the committed fixtures, half of them eval."""
  return _dataset(tmp_path_factory, 'rnn-nade_tiny', fixture_notesequences,
                  eval_ratio=0.5)


@pytest.fixture(scope='session')
def music_vae_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny dataset of MusicVAE's 2-bar melodies (cat-mel_2bar_small_tiny;
  the other tiny melody configs' data is the same) of the committed
  fixtures, half of them eval."""
  return _dataset(tmp_path_factory, 'cat-mel_2bar_small_tiny',
                  fixture_notesequences, eval_ratio=0.5)


@pytest.fixture(scope='session')
def music_vae_run(music_vae_dataset, tmp_path_factory):
  """(run folder, TrainSummary) of cat-mel_2bar_small_tiny after 30 steps
  on `music_vae_dataset` (with scheduled sampling)."""
  return _run(tmp_path_factory, 'cat-mel_2bar_small_tiny', music_vae_dataset,
              **testing_lib.MUSIC_VAE_RUN)


@pytest.fixture(scope='session')
def trio_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny dataset of MusicVAE trios (hierdec-trio_16bar_tiny: windows of
  2 bars) of the committed fixtures (the pop file's trios) and two 8-bar
  synthetic trios (`testing_lib.trio_song`), one in each split (half the
  files eval)."""
  # pylint: disable=import-outside-toplevel
  import tensorflow as tf
  from musicrnn import configs
  from musicrnn.pipelines import dataset

  def make(folder):
    path = os.path.join(folder, 'ns.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
      for sequence in testing_lib.read_notesequences(
          [fixture_notesequences]).values():
        writer.write(sequence.SerializeToString())
      # Ids whose hash puts the first in eval, the second in train.
      for index, shift in enumerate((0, 2)):
        sequence = testing_lib.trio_song(bars=8, shift=shift)
        sequence.id = f'synthetic-trio-{index}'
        writer.write(sequence.SerializeToString())
    output_dir = os.path.join(folder, 'dataset')
    dataset.create_dataset(configs.get_config('hierdec-trio_16bar_tiny'),
                           path, output_dir, eval_ratio=0.5)
    return output_dir

  return testing_lib.made_once(tmp_path_factory, 'trio_dataset', make)[1]


@pytest.fixture(scope='session')
def magenta_datasets(fixture_notesequences, tmp_path_factory):
  """Tiny datasets of Magenta's Melody, Drums and Improv RNN data (each
  track the configs' extractors read from the committed fixtures, half of
  the files eval), by config name."""
  return _Lazy(('lookback_rnn_tiny', 'drum_kit_rnn_tiny', 'basic_improv_tiny'),
               lambda name: _dataset(tmp_path_factory, name,
                                     fixture_notesequences, eval_ratio=0.5))


@pytest.fixture(scope='session')
def melody_dataset(magenta_datasets):
  """The lookback_rnn_tiny dataset of `magenta_datasets`."""
  return magenta_datasets['lookback_rnn_tiny']


@pytest.fixture(scope='session')
def fixture_notesequences(tmp_path_factory):
  """The committed fixtures (tests/testdata) as NoteSequences."""
  return _converted(tmp_path_factory, 'fixture_ns', testing_lib.TESTDATA)


@pytest.fixture(scope='session')
def note_dataset(fixture_notesequences, tmp_path_factory):
  """A tiny note-tuple dataset (note_lstm_tiny, its chord vocabulary counted
  from the train split) of the committed fixtures, half of them eval."""
  return _dataset(tmp_path_factory, 'note_lstm_tiny', fixture_notesequences,
                  eval_ratio=0.5)


@pytest.fixture(scope='session')
def corpus_notesequences(tmp_path_factory):
  """The bundled corpus (musicrnn/quickstart_corpus) as NoteSequences."""
  return _converted(tmp_path_factory, 'corpus_ns', CORPUS)


@pytest.fixture(scope='session')
def tiny_datasets(tmp_path_factory):
  """Tiny datasets of the bundled corpus (a quarter of it eval), by config name."""
  return _Lazy(TINY_DATASETS, lambda name: _dataset(
      tmp_path_factory, name, _converted(tmp_path_factory, 'corpus_ns', CORPUS),
      eval_ratio=0.25))


@pytest.fixture(scope='session')
def tiny_trained(tiny_datasets, tmp_path_factory):
  """{config name: (run folder, TrainSummary)} of the tiny performance
  configs trained as testing_lib.TINY_RUN says."""
  return _Lazy(('performance_with_dynamics_tiny',
                'multiconditioned_performance_with_dynamics_tiny'),
               lambda name: _run(tmp_path_factory, name, tiny_datasets[name],
                                 **testing_lib.TINY_RUN))


@pytest.fixture(scope='session')
def tiny_runs(tiny_trained):
  """Briefly trained runs of the tiny performance configs, by config name."""
  return _Lazy(tuple(tiny_trained), lambda name: tiny_trained[name][0])


@pytest.fixture(scope='session')
def family_runs(tiny_datasets, tmp_path_factory):
  """{config name: (run folder, TrainSummary)} of the other event families
  (testing_lib.FAMILIES) after 60 steps."""
  return _Lazy(testing_lib.FAMILIES, lambda name: _run(
      tmp_path_factory, name, tiny_datasets[testing_lib.FAMILIES[name]],
      num_steps=60, seed=1, log_every=10, eval_every=60, checkpoint_every=30))


@pytest.fixture(scope='session')
def fixture_datasets(tmp_path_factory):
  """(performance, piano roll) tiny datasets of the committed fixtures, half
  of them eval, as the training benchmarks' --smoke builds them
  (benchmarks/smoke_data.py)."""
  smoke_data = testing_lib.import_benchmark_library('smoke_data')
  return testing_lib.made_once(tmp_path_factory, 'fixture_datasets',
                               smoke_data.fixture_datasets)[1]


@pytest.fixture(scope='session')
def gan_dataset(fixture_datasets):
  """A tiny piano-roll dataset of the committed fixtures (the bundled
  piano-midi.de corpus changes tempo every beat, so it gives no 4-bar
  segments): about 170 train and 9 eval segments."""
  return fixture_datasets[1]


@pytest.fixture(scope='session')
def gan_run(gan_dataset, tmp_path_factory):
  """(run folder, TrainSummary) of the tiny piano-roll GAN after 6 steps."""
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.training import trainer

  def make(folder):
    run_dir = os.path.join(folder, 'run')
    summary = trainer.train(configs.get_config('pianoroll_gan_tiny'), gan_dataset,
                            run_dir, num_steps=6, seed=1, log_every=2,
                            eval_every=6, checkpoint_every=3, progress=False)
    return run_dir, summary

  return testing_lib.made_once(tmp_path_factory, 'run_pianoroll_gan_tiny', make)[1]
