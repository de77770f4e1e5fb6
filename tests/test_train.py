"""musicrnn_train: the tiny Performance RNN trains, resumes and refuses bad data."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import errors
from musicrnn.errors import UsageError
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import next_token
from musicrnn.training import trainer
import testing_lib


def _config(name, **overrides):
  config = configs.get_config(name)
  configs.apply_overrides(config, overrides=overrides)
  return config


@pytest.mark.parametrize('name', ['performance_with_dynamics_tiny',
                                  'multiconditioned_performance_with_dynamics_tiny'])
def test_tiny_config_trains_and_loss_falls(name, tiny_trained):
  run_dir, summary = tiny_trained[name]   # as testing_lib.TINY_RUN: 60 steps
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6
  assert losses[-1] < losses[0] - 0.5, losses
  assert summary.evals and summary.evals[-1]['events'] > 0
  assert summary.evals[-1]['nll'] < losses[0]
  for key in ('accuracy', 'learning_rate', 'steps_per_second', 'events_per_second'):
    assert summary.history[-1][key] > 0
  saved = json.load(open(os.path.join(run_dir, 'config.json')))
  assert saved['config']['name'] == name
  assert saved['encoding']['settings']['num_velocity_bins'] == 32
  assert os.listdir(os.path.join(run_dir, 'train'))
  assert os.listdir(os.path.join(run_dir, 'eval'))
  with open(os.path.join(run_dir, 'eval_metrics.json')) as f:
    assert json.load(f)['step'] == 60


def test_resume_continues_from_the_saved_step(tiny_trained, tiny_datasets, tmp_path):
  name = 'performance_with_dynamics_tiny'
  run_dir, first = tiny_trained[name]
  assert first.final_step == 60 and not first.resumed
  shutil.copytree(run_dir, tmp_path, dirs_exist_ok=True)
  # A run written before data.length_unit and train.bucket_boundaries
  # existed resumes (its config.json lacks the settings; their defaults are
  # the old behaviour).
  path = tmp_path / run_dir_lib.CONFIG_JSON
  record = json.loads(path.read_text())
  del record['config']['data']['length_unit']
  del record['config']['train']['bucket_boundaries']
  path.write_text(json.dumps(record))
  config = testing_lib.tiny_config(name)
  second = trainer.train(config, tiny_datasets[name], str(tmp_path),
                         num_steps=70, seed=2, checkpoint_every=10,
                         eval_every=100, progress=False)
  assert second.resumed and second.start_step == 60 and second.final_step == 70
  assert sorted(os.listdir(run_dir_lib.checkpoint_dir(str(tmp_path))))[-1].startswith('ckpt-70')
  done = trainer.train(config, tiny_datasets[name], str(tmp_path), num_steps=70,
                       progress=False)
  assert done.start_step == done.final_step == 70
  # A run resumes at another dropout (no weight, data or optimizer state
  # changes), which config.json then records; any other change is refused.
  configs.apply_overrides(config, hparams='dropout_rate=0.25')
  lower = trainer.train(config, tiny_datasets[name], str(tmp_path),
                        num_steps=72, eval_every=100, progress=False)
  assert lower.resumed and lower.start_step == 70 and lower.final_step == 72
  saved = json.loads(path.read_text())
  assert saved['config']['model']['dropout_rate'] == 0.25
  assert saved['changes'] == [{'setting': 'model.dropout_rate',
                               'before': 0.0, 'after': 0.25}]
  configs.apply_overrides(config, hparams='dropout_rate=0.1,clip_norm=1.0')
  with pytest.raises(UsageError, match=r'another config \(differs in: '
                     r'model.dropout_rate, train.clip_norm\)'):
    trainer.train(config, tiny_datasets[name], str(tmp_path), num_steps=74,
                  progress=False)
  assert json.loads(path.read_text())['config']['model']['dropout_rate'] == 0.25


def test_other_encoding_or_config_is_a_clear_error(tiny_datasets, tiny_runs,
                                                    tmp_path):
  with pytest.raises(UsageError, match='Build a dataset with --config=performance_with_dynamics_tiny'):
    trainer.train(_config('performance_with_dynamics_tiny'),
                  tiny_datasets['polyphony_tiny'], str(tmp_path), num_steps=2)
  with pytest.raises(UsageError, match='lacks the control signals'):
    trainer.train(_config('multiconditioned_performance_with_dynamics_tiny'),
                  tiny_datasets['performance_with_dynamics_tiny'], str(tmp_path), num_steps=2)
  name = 'performance_with_dynamics_tiny'
  shutil.copytree(tiny_runs[name], tmp_path / 'run')
  with pytest.raises(UsageError, match='another config'):
    trainer.train(testing_lib.tiny_config(name, **{'train.batch_size': 2}),
                  tiny_datasets[name], str(tmp_path / 'run'), num_steps=70,
                  progress=False)


@pytest.mark.parametrize('name, setting, value, built', [
    ('performance_with_dynamics_tiny', 'data.max_events', 128, 64),
    ('performance_with_dynamics_tiny', 'data.long_sequences', 'crop', 'split'),
    ('performance_with_dynamics_tiny', 'data.chunk_seconds', 20.0, 30.0),
    ('multiconditioned_performance_with_dynamics_tiny',
     'controls.note_density_window_seconds', 5.0, 3.0),
    ('multiconditioned_performance_with_dynamics_tiny',
     'controls.pitch_histogram_window_seconds', 3.0, 5.0),
])
def test_data_built_with_other_settings_is_a_one_line_error(
    name, setting, value, built, tiny_datasets, tmp_path):
  with pytest.raises(UsageError) as info:
    trainer.train(_config(name, **{setting: value}), tiny_datasets[name],
                  str(tmp_path), num_steps=2, progress=False)
  message = str(info.value)
  assert '\n' not in message
  assert f'built with {setting}={built!r}' in message
  assert f'has {setting}={value!r}' in message
  assert not os.listdir(tmp_path)   # nothing written


def test_cli_trains_and_reports_flag_mistakes(tiny_datasets, tmp_path):
  def cli(*args):
    return testing_lib.run_program('musicrnn.train', *args)

  name = 'performance_with_dynamics_tiny'
  result = cli(f'--config={name}', f'--train_data={tiny_datasets[name]}',
               f'--run_dir={tmp_path}/run', '--num_steps=4', '--log_every=2',
               '--hparams=batch_size=2', '--config.model.cell=gru',
               '--jit_compile=on', '--mixed_precision=mixed_bfloat16')
  assert result.returncode == 0, result.stderr
  assert 'steps 0 -> 4' in result.stdout
  assert 'XLA on, static length 64, precision mixed_bfloat16' in result.stderr
  assert len(re.findall(r'step \d+ loss', result.stderr)) == 2
  saved = json.load(open(tmp_path / 'run' / 'config.json'))
  assert saved['config']['model']['cell'] == 'gru'
  assert saved['config']['train']['batch_size'] == 2
  result = cli(f'--config={name}', f'--sequence_example_file={tiny_datasets[name]}',
               f'--run_dir={tmp_path}/x')
  assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith(
      'unknown flag --sequence_example_file; this program calls it --train_data')
  result = cli('--config=performace', f'--train_data={tiny_datasets[name]}',
               f'--run_dir={tmp_path}/x')
  assert result.returncode == 2 and "unknown config 'performace'" in result.stderr
  result = cli(f'--config={name}', f'--train_data={tiny_datasets[name]}',
               f'--run_dir={tmp_path}/x', '--strategy=gpus')
  assert result.returncode == 2 and 'default' in result.stderr and 'mirrored' in result.stderr
  result = cli(f'--config={name}', f'--train_data={tmp_path}/nothing',
               f'--run_dir={tmp_path}/x')
  assert result.returncode == 2 and 'matches nothing; expected a dataset folder' \
      in result.stderr


def test_mirrored_strategy_over_two_cpu_devices(tiny_datasets, tmp_path):
  # The CPU was split into two logical devices before TensorFlow started
  # (conftest.py), as --cpu_devices=2 does in a process of its own.
  name = 'performance_with_dynamics_tiny'
  result = testing_lib.run_program(
      'musicrnn.train', f'--config={name}', f'--train_data={tiny_datasets[name]}',
      f'--run_dir={tmp_path / "run"}', '--strategy=mirrored',
      f'--cpu_devices={testing_lib.MIRRORED_CPU_DEVICES}', '--num_steps=40',
      '--log_every=10', '--eval_every=40', '--seed=1',
      '--config.train.learning_rate=0.01')
  assert result.returncode == 0, result.stderr[-3000:]
  assert '2 replica(s)' in result.stderr
  losses = [float(x) for x in re.findall(r'step \d+ loss ([\d.]+)', result.stderr)]
  assert len(losses) == 4 and losses[-1] < losses[0]
  # Another split than the one TensorFlow started with cannot be made.
  result = testing_lib.run_program(
      'musicrnn.train', f'--config={name}', f'--train_data={tiny_datasets[name]}',
      f'--run_dir={tmp_path / "y"}', '--strategy=mirrored', '--cpu_devices=3')
  assert result.returncode == 2
  assert 'cannot split the CPU once TensorFlow has started (it has 2 CPU device(s))' \
      in result.stderr
  result = testing_lib.run_program(
      'musicrnn.train', f'--config={name}', f'--train_data={tiny_datasets[name]}',
      f'--run_dir={tmp_path / "x"}', '--cpu_devices=2')
  assert result.returncode == 2
  assert '--cpu_devices goes with --strategy=mirrored' in result.stderr


def test_out_of_memory_is_a_one_line_error(tiny_datasets, tmp_path, monkeypatch):
  """A step that does not fit says so, with the batch shape and what to
  change (the default transformer's 16 x 2,048 batches on a small machine)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  def exhausted(self, *args):
    raise tf.errors.ResourceExhaustedError(
        None, None, 'Graph execution error:\n\nOut of memory while trying to '
        'allocate 47.75GiB.\n [[{{node StatefulPartitionedCall}}]]')

  monkeypatch.setattr(next_token.NextTokenObjective, 'replica_step', exhausted)  # pylint: disable=protected-access
  name = 'performance_with_dynamics_tiny'
  with pytest.raises(errors.OutOfMemoryError) as info:
    trainer.train(_config(name), tiny_datasets[name], str(tmp_path), num_steps=2,
                  progress=False, static_shapes=True)
  message = str(info.value)
  assert '\n' not in message
  assert 'batches of 4 x 64 steps' in message
  assert 'Out of memory while trying to allocate 47.75GiB.' in message
  assert '--hparams=batch_size=N' in message


def test_the_best_evaluation_is_kept_and_early_stopping_resumes(tiny_datasets,
                                                                tmp_path):
  """With a learning rate of 0 no evaluation betters the first: the model
  of step 2 is kept in run_dir/best, training stops after --early_stopping
  evaluations without a better one, a run stopped early is done, and one
  resumed with more patience remembers the count."""
  name = 'performance_with_dynamics_tiny'
  config = testing_lib.tiny_config(name)
  configs.apply_overrides(config, overrides={'train.learning_rate': 0.0})
  run_dir = str(tmp_path / 'run')
  summary = trainer.train(config, tiny_datasets[name], run_dir, num_steps=100,
                          eval_every=2, checkpoint_every=100, early_stopping=2,
                          progress=False, seed=1)
  assert summary.final_step == 6 and [e['step'] for e in summary.evals] == [2, 4, 6]
  with open(os.path.join(run_dir, run_dir_lib.BEST_JSON)) as f:
    best = json.load(f)
  assert (best['step'], best['metric'], best['evaluations_since']) == (2, 'nll', 2)
  assert best['value'] == summary.evals[0]['nll'] == best['metrics']['nll']
  assert run_dir_lib.load_run(run_dir, best=True).step == 2
  assert run_dir_lib.load_run(run_dir).step == 6   # saved where it stopped
  # Stopped early, the run is done; with more patience it trains on, and
  # remembers the evaluations since the best.
  done = trainer.train(config, tiny_datasets[name], run_dir, num_steps=100,
                       eval_every=2, checkpoint_every=100, early_stopping=2,
                       progress=False, seed=1)
  assert done.start_step == done.final_step == 6
  again = trainer.train(config, tiny_datasets[name], run_dir, num_steps=100,
                        eval_every=2, checkpoint_every=100, early_stopping=3,
                        progress=False, seed=1)
  assert again.start_step == 6 and again.final_step == 8
  shutil.rmtree(run_dir_lib.checkpoint_dir(run_dir, best=True))
  with pytest.raises(UsageError, match='has no best model'):
    run_dir_lib.load_run(run_dir, best=True)


def test_bucket_boundaries_batch_examples_of_like_length(tiny_datasets,
                                                         tmp_path, monkeypatch):
  """`train.bucket_boundaries` reaches the training batches: each batch
  the trainer draws holds examples of one length bucket only."""
  from musicrnn.tfrecords import input as input_lib  # pylint: disable=import-outside-toplevel
  name = 'performance_with_dynamics_tiny'
  real = input_lib.make_dataset
  lengths = np.concatenate([w.numpy().sum(axis=1) for _, _, w in real(
      tiny_datasets[name], 'train', 8, repeat=False)])
  # The cut examples are as long as max_events allows, the last of a piece
  # shorter: bucket 0 takes the short ones, bucket 1 the full ones.
  boundaries = [int(lengths.max())]
  assert lengths.min() < boundaries[0]
  config = testing_lib.tiny_config(name)
  configs.apply_overrides(config, hparams=f'bucket_boundaries={boundaries}')
  made = []

  def spy(*args, **kwargs):
    dataset = real(*args, **kwargs)
    if args[1] == 'train':
      made.append((args, kwargs))
    return dataset

  monkeypatch.setattr(input_lib, 'make_dataset', spy)
  trainer.train(config, tiny_datasets[name], str(tmp_path / 'run'),
                num_steps=2, eval_every=2, progress=False, seed=1)
  ((args, kwargs),) = made
  assert kwargs['bucket_boundaries'] == tuple(boundaries)
  buckets_seen = set()
  for _, _, weights in real(*args, **kwargs).take(40):
    batch = weights.numpy().sum(axis=1)
    buckets = set(np.digitize(batch, boundaries).tolist())
    assert len(buckets) == 1, batch
    buckets_seen |= buckets
  assert buckets_seen == {0, 1}


def _saved_learning_rate(run_dir):
  reader = tf.train.load_checkpoint(run_dir_lib.checkpoint_dir(run_dir))
  (key,) = [k for k in reader.get_variable_to_shape_map()
            if k.startswith('optimizer/') and 'learning_rate' in k]
  return float(reader.get_tensor(key))


def test_learning_rate_decays_on_plateau_and_resumes_decayed(tiny_datasets,
                                                             tmp_path):
  """With a rate too small to move a weight no evaluation betters the
  first: with lr_decay_patience=2 the rate is divided by 10 at the 2nd and
  4th evaluation without a better one, the checkpoint keeps it, and a
  resumed run goes on from it; a schedule or a bad factor is refused."""
  name = 'performance_with_dynamics_tiny'
  config = testing_lib.tiny_config(name)
  configs.apply_overrides(config, hparams='learning_rate=1e-30,'
                          'lr_decay_patience=2,lr_decay_factor=0.1')
  run_dir = str(tmp_path / 'run')
  summary = trainer.train(config, tiny_datasets[name], run_dir, num_steps=10,
                          eval_every=2, checkpoint_every=2, progress=False,
                          seed=1)
  assert [e['step'] for e in summary.evals] == [2, 4, 6, 8, 10]
  assert len({e['nll'] for e in summary.evals}) == 1   # nothing moved
  assert _saved_learning_rate(run_dir) == pytest.approx(1e-32, rel=1e-5)
  trainer.train(config, tiny_datasets[name], run_dir, num_steps=14,
                eval_every=2, checkpoint_every=2, progress=False, seed=1)
  assert _saved_learning_rate(run_dir) == pytest.approx(1e-33, rel=1e-5)
  for warmup, factor, message in (
      (10, 0.1, 'needs a constant learning rate'),
      (0, 1.5, 'between 0 and 1')):
    config = testing_lib.tiny_config(name)
    configs.apply_overrides(config, hparams=f'lr_decay_patience=2,'
                            f'lr_decay_factor={factor}')
    with config.unlocked():   # as the transformer configs set it
      config.train.warmup_steps = warmup
    with pytest.raises(UsageError, match=message):
      trainer.train(config, tiny_datasets[name], str(tmp_path / message),
                    num_steps=2, progress=False)
    # Refused before the run folder is written: nothing to clean up.
    assert not (tmp_path / message).exists()
