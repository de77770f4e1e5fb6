"""One file per trained model: musicrnn_export writes an .mrnn file that
musicrnn_generate --bundle_file and musicrnn_train --init_from take; a file
that is not one (another member, a path, another version) is refused."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest

from musicrnn.encodings import controls
from musicrnn.errors import UsageError
from musicrnn.runs import generate
from musicrnn.runs import model_file
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer
import testing_lib

NAME = 'performance_with_dynamics_tiny'


@pytest.fixture(scope='module')
def exported(tiny_runs, tmp_path_factory):
  path = str(tmp_path_factory.mktemp('export') / 'perf.mrnn')
  result = testing_lib.run_program('musicrnn.export', f'--run_dir={tiny_runs[NAME]}',
                                   f'--output={path}')
  assert result.returncode == 0, result.stderr[-3000:]
  return path


def test_the_file_holds_config_encoding_and_weights_only(exported, tiny_runs):
  with zipfile.ZipFile(exported) as archive:
    assert sorted(archive.namelist()) == sorted(model_file._MEMBERS)  # pylint: disable=protected-access
  metadata = model_file.read_metadata(exported)
  config, encoding = run_dir_lib.load(tiny_runs[NAME])
  assert metadata['config'] == json.loads(json.dumps(config.to_dict()))
  assert metadata['encoding'] == encoding
  assert metadata['step'] == run_dir_lib.load_run(tiny_runs[NAME]).step
  result = testing_lib.run_program('musicrnn.export', f'--run_dir={tiny_runs[NAME]}',
                                   f'--output={exported}')
  assert result.returncode == 2 and 'exists' in result.stderr


def test_generating_from_the_file_equals_generating_from_the_run(
    exported, tiny_runs, tmp_path):
  (from_run,) = generate.generate(tiny_runs[NAME], str(tmp_path / 'run'),
                                  num_steps=80, seed=3)
  result = testing_lib.run_program(
      'musicrnn.generate', f'--bundle_file={exported}',
      f'--output_dir={tmp_path / "file"}', '--num_steps=80', '--seed=3')
  assert result.returncode == 0, result.stderr[-3000:]
  from_file = tmp_path / 'file' / os.path.basename(from_run)
  assert from_file.read_bytes() == open(from_run, 'rb').read()


def test_init_from_starts_a_new_run_from_the_weights(exported, tiny_runs,
                                                     tiny_datasets, tmp_path):
  run = run_dir_lib.load_run(tiny_runs[NAME])
  config = testing_lib.tiny_config(NAME)
  fresh = run_dir_lib.load_run(tiny_runs[NAME]).model
  for variable in fresh.weights:
    variable.assign(np.zeros(variable.shape, variable.dtype))
  assert model_file.restore_weights(fresh, exported) == run.step
  for ours, theirs in zip(fresh.weights, run.model.weights):
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours),
                                  keras.ops.convert_to_numpy(theirs))
  # A new run from the file: step 0, a fresh optimizer, the trained weights
  # (its first loss is the trained model's, far below a new model's).
  tuned = trainer.train(config, tiny_datasets[NAME], str(tmp_path / 'tuned'),
                        num_steps=2, log_every=1, seed=1, progress=False,
                        init_from=exported)
  scratch = trainer.train(config, tiny_datasets[NAME], str(tmp_path / 'new'),
                          num_steps=2, log_every=1, seed=1, progress=False)
  assert tuned.start_step == 0 and not tuned.resumed
  assert tuned.history[0]['loss'] < scratch.history[0]['loss'] - 0.5
  # Other model settings are named, not a shape error.
  other = testing_lib.tiny_config(NAME, **{'model.rnn_layer_sizes': (8,)})
  with pytest.raises(UsageError, match=r'differs in: model\.rnn_layer_sizes'):
    trainer.train(other, tiny_datasets[NAME], str(tmp_path / 'other'), num_steps=1,
                  progress=False, init_from=exported)


@pytest.mark.parametrize('members, message', [
    ({'../evil': b'x'}, 'not a musicrnn model file'),
    ({model_file.METADATA: b'{"format": "musicrnn_model", "format_version": 9, '
      b'"config": {}, "encoding": {}}', 'weights.index': b'',
      'weights.data-00000-of-00001': b''}, 'format_version 9'),
    ({model_file.METADATA: b'not json', 'weights.index': b'',
      'weights.data-00000-of-00001': b''}, 'not valid JSON'),
])
def test_files_that_are_not_model_files_are_refused(tmp_path, members, message):
  path = tmp_path / 'bad.mrnn'
  with zipfile.ZipFile(path, 'w') as archive:
    for name, data in members.items():
      archive.writestr(name, data)
  with pytest.raises(UsageError, match=message):
    model_file.unpack(str(path), str(tmp_path / 'run'))
  (tmp_path / 'plain.mrnn').write_bytes(b'plain bytes')
  with pytest.raises(UsageError, match='not a musicrnn model file'):
    model_file.read_metadata(str(tmp_path / 'plain.mrnn'))
  assert not os.path.exists(tmp_path / 'run' / 'config.json')


SERVE = r'''
import json, sys
sys.modules['musicrnn'] = None          # `import musicrnn` fails here
try:
  import musicrnn  # noqa
  raise SystemExit('musicrnn imported')
except ImportError:
  pass
import numpy as np
import tensorflow as tf
for path in sys.argv[1:]:
  loaded = tf.saved_model.load(path)
  fn = loaded.signatures['generate']
  args = dict(primer=tf.constant([[355, 10], [355, 20]], tf.int32),
              num_steps=tf.constant(40), temperature=tf.constant(0.9),
              top_k=tf.constant(0), top_p=tf.constant(1.0),
              seed=tf.constant(7, tf.int64), max_polyphony=tf.constant(0),
              max_note_duration=tf.constant(5.0))
  if 'notes_per_second' in fn.structured_input_signature[1]:
    args['notes_per_second'] = tf.constant([4.0, 12.0])
    args['pitch_class_histogram'] = tf.ones([2, 12])
  tokens = fn(**args)['tokens'].numpy()
  spec = json.load(open(loaded.codec_spec.asset_path.numpy().decode()))
  print(json.dumps({'tokens': tokens.tolist(), 'codec': spec['encoding']['name'],
                    'inputs': sorted(fn.structured_input_signature[1])}))
'''


def test_saved_models_generate_without_musicrnn(tiny_runs, tmp_path):
  """SavedModels of an unconditioned and a conditioned run load and sample
  in a process where `import musicrnn` fails (a process is the point; one
  serves both), and draw what `sampler.sample` draws for the same seed and
  controls."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  from musicrnn.generation import sampler  # pylint: disable=import-outside-toplevel
  names = ['performance_with_dynamics_tiny',
           'multiconditioned_performance_with_dynamics_tiny']
  outputs = []
  for name in names:
    outputs.append(str(tmp_path / f'saved_{name}'))
    result = testing_lib.run_program('musicrnn.export', f'--run_dir={tiny_runs[name]}',
                                     f'--output={outputs[-1]}', '--format=saved_model')
    assert result.returncode == 0, result.stderr[-3000:]
  served = subprocess.run([sys.executable, '-c', SERVE, *outputs], capture_output=True,
                          text=True, timeout=300, cwd=str(tmp_path))
  assert served.returncode == 0, served.stderr[-3000:]
  reports = [json.loads(line) for line in served.stdout.strip().splitlines()[-2:]]
  assert len(reports) == 2, served.stdout
  for name, report in zip(names, reports):
    assert report['codec'] == 'performance'
    run = run_dir_lib.load_run(tiny_runs[name])
    primer = np.array([[355, 10], [355, 20]], np.int32)
    values = controls.user_inputs(
        run.controls, {'notes_per_second': 4.0, 'pitch_class_histogram': [1.0] * 12}
        if run.controls else {}, run.config.name)
    schedules = {k: np.broadcast_to(v, (2, 42) + np.shape(v)).copy()
                 for k, v in values.items()}
    if run.controls:   # the two outputs asked for different densities
      schedules['note_density'][1] = run.controls[0][1].class_of(12.0)
    # The SavedModel runs the loop without XLA (servable anywhere), with
    # the state masks of musicrnn_generate's defaults.
    expected = sampler.sample(run.model, primer, 40, controls=schedules,
                              temperature=0.9, seed=7, jit_compile=False,
                              grammar=run.codec.grammar(0, 5.0))
    np.testing.assert_array_equal(np.array(report['tokens']), expected)
    assert bool(run.controls) == ('notes_per_second' in report['inputs'])
  assert {'notes_per_second', 'pitch_class_histogram'} <= set(reports[1]['inputs'])
