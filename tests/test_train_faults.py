"""Training that survives a killed process, tampered files and many workers.

- SIGKILL during a checkpoint write: the restarted run resumes from the last
  complete checkpoint, with its step and optimizer state.
- An unreadable newest checkpoint is skipped for the one before when
  training; loading a run to sample from it is a clear error.
- Two `musicrnn_train` processes under MultiWorkerMirroredStrategy (TF_CONFIG
  on loopback ports) train together; the same seed gives the same loss
  curve and the same MIDI.
"""

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn.errors import UsageError
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer

import testing_lib

NAME = 'performance_with_dynamics_tiny'


def _listed(checkpoints):
  """Checkpoint numbers of TensorFlow's index file (complete checkpoints)."""
  try:
    text = (checkpoints / 'checkpoint').read_text()
  except FileNotFoundError:
    return []
  return [int(n) for n in re.findall(r'all_model_checkpoint_paths: "ckpt-(\d+)"', text)]


def _optimizer_iterations(reader):
  keys = [k for k in reader.get_variable_to_shape_map()
          if k.startswith('optimizer/') and 'iterations' in k]
  assert len(keys) == 1, keys
  return int(reader.get_tensor(keys[0]))


def _kill_during_a_checkpoint_write(args, checkpoints):
  """Starts training, SIGKILLs it while it writes a checkpoint after at
  least two complete ones; returns the torn checkpoint's number."""
  process = subprocess.Popen(args, cwd=testing_lib.REPO_ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
      listed = _listed(checkpoints)
      if len(listed) >= 2:
        torn = [p for p in checkpoints.glob('ckpt-*_temp')
                if int(p.name[5:-5]) > max(listed)]
        if torn:
          process.send_signal(signal.SIGKILL)
          process.wait()
          return int(torn[0].name[5:-5])
      time.sleep(0.001)
    raise AssertionError('no checkpoint write was seen')
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()


def test_killed_during_a_checkpoint_write_resumes_from_the_last_complete_one(
    tiny_datasets, tmp_path):
  run_dir = tmp_path / 'run'
  checkpoints = run_dir / 'checkpoints'
  # Wide layers make each checkpoint write last long enough to be caught.
  common = [sys.executable, '-m', 'musicrnn.train', f'--config={NAME}',
            f'--train_data={tiny_datasets[NAME]}', f'--run_dir={run_dir}',
            '--hparams=rnn_layer_sizes=[384,384]', '--eval_every=100000',
            '--keep_checkpoints=3']
  for _ in range(3):
    torn = _kill_during_a_checkpoint_write(
        common + ['--num_steps=100000', '--checkpoint_every=1', '--log_every=50'],
        checkpoints)
    if torn not in _listed(checkpoints):
      break
  # The torn checkpoint's write had begun but is not in the index.
  assert torn not in _listed(checkpoints)
  assert (checkpoints / f'ckpt-{torn}_temp').exists()
  last = max(_listed(checkpoints))
  assert last == torn - 1
  reader = tf.train.load_checkpoint(str(checkpoints / f'ckpt-{last}'))
  assert _optimizer_iterations(reader) == last

  # The restart need not be a process of its own.
  result = testing_lib.run_program(
      'musicrnn.train', *common[3:], f'--num_steps={last + 3}',
      '--checkpoint_every=100', '--log_every=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'resumed from {checkpoints}/ckpt-{last} at step {last}' in result.stderr
  assert f'steps {last} -> {last + 3}' in result.stderr
  # The torn write's leftovers are gone; the step and the optimizer's
  # iteration count went on from the restored checkpoint.
  assert not list(checkpoints.glob('ckpt-*_temp'))
  final = tf.train.load_checkpoint(str(checkpoints / f'ckpt-{last + 3}'))
  assert int(final.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE')) == last + 3
  assert _optimizer_iterations(final) == last + 3


def _fresh_objects(config):
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
  optimizer = tf.keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  step = tf.Variable(0, dtype=tf.int64)
  return tf.train.Checkpoint(model=model, step=step, optimizer=optimizer)


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


def _flip_byte(path, offset):
  with open(path, 'r+b') as f:
    f.seek(offset)
    byte = f.read(1)
    f.seek(offset)
    f.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def two_checkpoint_run(tiny_runs):
  """The session's tiny run, with checkpoints at steps 30 and 60 (copy it
  before tampering)."""
  return tiny_runs[NAME]


def _copy(run_dir, tmp_path):
  copy = str(tmp_path / 'run')
  shutil.copytree(run_dir, copy)
  return copy


def test_restore_brings_back_the_model_and_every_optimizer_variable(
    two_checkpoint_run):
  checkpoint = _fresh_objects(configs.get_config(NAME))
  directory = run_dir_lib.checkpoint_dir(two_checkpoint_run)
  path = run_dir_lib.restore_checkpoint(checkpoint, directory)
  assert path.endswith('ckpt-60')
  reader = tf.train.load_checkpoint(path)
  optimizer = checkpoint.optimizer
  assert int(optimizer.iterations.numpy()) == 60 == int(checkpoint.step.numpy())
  # Adam's moments are restored, not zero: the optimizer state continues.
  moments = [v for v in optimizer.variables if 'momentum' in v.path or
             'velocity' in v.path]
  assert moments and all(np.abs(v.numpy()).sum() > 0 for v in moments)
  compared = 0
  for i, variable in enumerate(optimizer.variables):
    key = f'optimizer/_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE'
    if reader.has_tensor(key):
      np.testing.assert_array_equal(variable.numpy(), reader.get_tensor(key))
      compared += 1
  assert compared >= len(moments)


def _damage(run_dir, damage):
  prefix = os.path.join(run_dir_lib.checkpoint_dir(run_dir), 'ckpt-60')
  data = prefix + '.data-00000-of-00001'
  if damage == 'truncated data':
    _truncate(data)
  elif damage == 'flipped byte':
    _flip_byte(data, 5)  # in the object graph, which every restore reads
  else:
    _truncate(prefix + '.index')


@pytest.mark.parametrize('damage', ['truncated data', 'flipped byte', 'truncated index'])
def test_training_skips_an_unreadable_newest_checkpoint(
    damage, two_checkpoint_run, tiny_datasets, tmp_path, caplog):
  run_dir = _copy(two_checkpoint_run, tmp_path)
  _damage(run_dir, damage)
  with caplog.at_level(logging.WARNING):
    summary = trainer.train(testing_lib.tiny_config(NAME), tiny_datasets[NAME],
                            run_dir, num_steps=42, checkpoint_every=10,
                            eval_every=100, progress=False)
  assert summary.start_step == 30 and summary.final_step == 42
  assert any('ckpt-60 cannot be restored' in r.getMessage() for r in caplog.records)
  # Loading the run to sample, the damaged checkpoint is a clear error.
  run_dir = _copy(two_checkpoint_run, tmp_path / 'again')
  _damage(run_dir, damage)
  with pytest.raises(UsageError, match='ckpt-60 cannot be restored.*truncated, '
                     'tampered with or from another model'):
    run_dir_lib.load_run(run_dir)


def test_every_checkpoint_unreadable_is_an_error_not_a_fresh_start(
    two_checkpoint_run, tiny_datasets, tmp_path):
  run_dir = _copy(two_checkpoint_run, tmp_path)
  for path in tf.io.gfile.glob(os.path.join(run_dir, 'checkpoints', '*.data-*')):
    _truncate(path)
  with pytest.raises(UsageError, match='no checkpoint under .* can be restored'):
    trainer.train(testing_lib.tiny_config(NAME), tiny_datasets[NAME], run_dir,
                  num_steps=70, progress=False)


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_multi_worker_training_as_two_processes(tiny_datasets, tmp_path):
  run_dir = tmp_path / 'run'
  workers = [f'localhost:{_free_port()}', f'localhost:{_free_port()}']
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}))
    processes.append(subprocess.Popen(
        [sys.executable, '-m', 'musicrnn.train', f'--config={NAME}',
         f'--train_data={tiny_datasets[NAME]}', f'--run_dir={run_dir}',
         '--strategy=multi_worker', '--num_steps=40', '--log_every=10',
         '--checkpoint_every=20', '--eval_every=40', '--config.train.learning_rate=0.01'],
        cwd=testing_lib.REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True))
  try:
    outputs = [process.communicate(timeout=400)[1] for process in processes]
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
        process.wait()
  for process, err in zip(processes, outputs):
    assert process.returncode == 0, err[-3000:]
  curves = [[float(x) for x in re.findall(r'step \d+ loss ([\d.]+)', err)]
            for err in outputs]
  # Synchronous training: both workers log the same all-reduced losses.
  assert len(curves[0]) == 4 and curves[0] == curves[1]
  assert curves[0][-1] < curves[0][0]
  assert '2 replica(s)' in outputs[0]
  # Only the chief wrote the run; the other worker's scratch folder is gone.
  assert sorted(os.listdir(run_dir)) == ['best', 'best.json', 'checkpoints',
                                         'config.json', 'eval',
                                         'eval_metrics.json', 'train']
  assert _listed(run_dir / 'checkpoints') == [20, 40]


def test_same_seed_same_loss_curve_and_same_midi(tiny_datasets, tmp_path):
  config = configs.get_config(NAME)
  runs = []
  for name in ('a', 'b'):
    run_dir = str(tmp_path / name)
    summary = trainer.train(config, tiny_datasets[NAME], run_dir, num_steps=20,
                            seed=11, log_every=5, eval_every=20, progress=False)
    runs.append((run_dir, summary))
  curves = [[h['loss'] for h in s.history] for _, s in runs]
  assert len(curves[0]) == 4 and curves[0] == curves[1]
  assert runs[0][1].evals[-1]['nll'] == runs[1][1].evals[-1]['nll']
  midis = []
  for run_dir, _ in runs:
    paths = generate.generate(run_dir, os.path.join(run_dir, 'out'), num_steps=60,
                              seed=5, num_outputs=2)
    midis.append([open(p, 'rb').read() for p in paths])
  assert midis[0] == midis[1]
  # Another seed, another curve.
  other = trainer.train(config, tiny_datasets[NAME], str(tmp_path / 'c'),
                        num_steps=20, seed=12, log_every=5, eval_every=100,
                        progress=False)
  assert [h['loss'] for h in other.history] != curves[0]
