"""Run directories and datasets are data: loading them executes nothing from
them, and a damaged or tampered file is a clear error."""

import ast
import glob
import json
import os
import pickle
import shutil
import sys

import pytest

from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import sources
from musicrnn.training import trainer

import testing_lib

NAME = 'performance_with_dynamics_tiny'

# Ways to run code from a file's content.
_UNSAFE_MODULES = {'pickle', 'cPickle', 'dill', 'cloudpickle', 'marshal', 'shelve',
                   'joblib', 'yaml'}
_UNSAFE_BUILTINS = {'eval', 'exec', 'compile', '__import__'}
_UNSAFE_METHODS = {'load_model', 'unsafe_load', 'import_module'}
# The one import by name: `modules.import_all` imports the modules it finds
# in a musicrnn package's own folder (families, configs, tasks registering
# themselves), never a name read from a file.
_ALLOWED = {(os.path.join('musicrnn', 'modules.py'), 'import_module')}


def test_the_package_has_no_way_to_unpickle_or_execute_a_file():
  problems = []
  for path in glob.glob(os.path.join(testing_lib.REPO_ROOT, 'musicrnn', '**', '*.py'),
                        recursive=True):
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
      names = []
      if isinstance(node, ast.Import):
        names = [a.name.split('.')[0] for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module:
        names = [node.module.split('.')[0]]
      problems += [f'{path}: imports {n}' for n in names if n in _UNSAFE_MODULES]
      if isinstance(node, ast.Call):
        func = node.func
        if (isinstance(func, ast.Name) and func.id in _UNSAFE_BUILTINS) or (
            isinstance(func, ast.Attribute) and func.attr in _UNSAFE_METHODS):
          name = getattr(func, 'id', None) or func.attr
          if (os.path.relpath(path, testing_lib.REPO_ROOT), name) not in _ALLOWED:
            problems.append(f'{path}:{node.lineno}: calls {name}')
        for keyword in node.keywords:
          if keyword.arg in ('allow_pickle', 'safe_mode') and not (
              isinstance(keyword.value, ast.Constant)
              and keyword.value.value is (keyword.arg == 'safe_mode')):
            problems.append(f'{path}:{node.lineno}: {keyword.arg}=...')
  assert not problems


class _Payload:
  """Unpickling this creates a file: proof that something ran."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (open, (self.marker, 'w'))


def _plant(path, marker):
  with open(path, 'wb') as f:
    pickle.dump(_Payload(marker), f)


def _copy(folder, tmp_path, name):
  """A copy of a shared fixture folder, to tamper with."""
  copy = str(tmp_path / name)
  shutil.copytree(folder, copy)
  return copy


@pytest.fixture
def run_copy(tiny_runs, tmp_path):
  return _copy(tiny_runs[NAME], tmp_path, 'run')


def test_pickles_in_a_run_directory_are_never_loaded(run_copy, tmp_path):
  marker = str(tmp_path / 'ran')
  for name in ('model.pkl', 'model.keras', 'optimizer.pickle'):
    _plant(os.path.join(run_copy, name), marker)
  run = run_dir_lib.load_run(run_copy)   # loads, ignoring the strangers
  assert run.step == 60
  _plant(os.path.join(run_copy, run_dir_lib.CONFIG_JSON), marker)
  with pytest.raises(UsageError, match='config.json is corrupt'):
    run_dir_lib.load_run(run_copy)
  assert not os.path.exists(marker)


@pytest.mark.parametrize('edit,error', [
    (lambda r: r['config']['model'].update(rnn_layer_sizes='abc'),
     'does not describe a model musicrnn can build'),
    (lambda r: r.update(encoding=[1, 2]), 'lacks its config or encoding'),
    (lambda r: r['encoding'].update(name='bogus'),
     "does not describe a model.*unknown encoding 'bogus'"),
    (lambda r: r['config']['model'].update(rnn_layer_sizes=[64, 64]),
     'ckpt-60 cannot be restored.*incompatible tensor with shape'),
])
def test_a_tampered_config_is_a_clear_error(edit, error, run_copy):
  path = os.path.join(run_copy, run_dir_lib.CONFIG_JSON)
  with open(path, encoding='utf-8') as f:
    record = json.load(f)
  edit(record)
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(record, f)
  with pytest.raises(UsageError, match=error):
    run_dir_lib.load_run(run_copy)


def test_damaged_config_or_checkpoint_index_is_a_clear_error(run_copy):
  path = os.path.join(run_copy, run_dir_lib.CONFIG_JSON)
  with open(path, encoding='utf-8') as f:
    text = f.read()
  with open(path, 'w', encoding='utf-8') as f:
    f.write(text[:len(text) // 2])
  with pytest.raises(UsageError, match='config.json is corrupt'):
    run_dir_lib.load_run(run_copy)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(text)
  index = os.path.join(run_copy, 'checkpoints', 'checkpoint')
  with open(index, 'w', encoding='utf-8') as f:
    f.write('model_checkpoint_path: "ckpt-60\n garbage {{{')
  with pytest.raises(UsageError, match='checkpoints/checkpoint is corrupt'):
    run_dir_lib.load_run(run_copy)


def test_the_generate_cli_reports_a_damaged_checkpoint_in_one_line(run_copy, tmp_path):
  for data in glob.glob(os.path.join(run_copy, 'checkpoints', '*.data-*')):
    with open(data, 'r+b') as f:
      f.truncate(100)
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_copy}', f'--output_dir={tmp_path / "out"}',
      '--num_steps=10')
  assert result.returncode == 2
  lines = [l for l in result.stderr.splitlines() if l.startswith('generate.py: error:')]
  assert len(lines) == 1 and 'cannot be restored' in lines[0], result.stderr[-2000:]
  assert 'Traceback' not in result.stderr


def test_a_tampered_dataset_is_a_clear_error(tiny_datasets, tmp_path):
  marker = str(tmp_path / 'ran')
  data = _copy(tiny_datasets[NAME], tmp_path, 'dataset')
  path = os.path.join(data, 'dataset.json')
  with open(path, encoding='utf-8') as f:
    description = json.load(f)
  _plant(path, marker)
  with pytest.raises(UsageError, match='dataset.json is not valid JSON'):
    sources.open_source(data)
  description['splits']['train']['files'] = ['../../../etc/passwd']
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(description, f)
  with pytest.raises(UsageError, match="lists '../../../etc/passwd', not a file of"):
    trainer.train(configs.get_config(NAME), data, str(tmp_path / 'run'), num_steps=2,
                  progress=False)
  assert not os.path.exists(marker)


def test_truncated_training_data_is_a_clear_error(tiny_datasets, tmp_path):
  data = _copy(tiny_datasets[NAME], tmp_path, 'dataset')
  for shard in glob.glob(os.path.join(data, 'train.tfrecord-*')):
    with open(shard, 'r+b') as f:
      f.truncate(os.path.getsize(shard) // 2)
  with pytest.raises(UsageError, match='the training data .* is damaged'):
    trainer.train(configs.get_config(NAME), data, str(tmp_path / 'run'),
                  num_steps=1000, eval_every=1000, progress=False)


def test_a_tfds_folder_cannot_make_tfds_import_its_code(tmp_path, monkeypatch):
  folder = tmp_path / 'musicrnn' / 'x' / '1.0.0'
  folder.mkdir(parents=True)
  (folder / 'dataset_info.json').write_text('{}')
  (folder / 'features.json').write_text(json.dumps({'featuresDict': {'features': {
      'tokens': {'pythonClassName': 'planted_feature.Feature'}}}}))
  (folder / 'planted_feature.py').write_text(
      f'open({str(tmp_path / "ran")!r}, "w")\n')
  monkeypatch.chdir(folder)
  monkeypatch.syspath_prepend(str(folder))
  with pytest.raises(UsageError, match="names the feature class 'planted_feature.Feature'"):
    sources.open_source(str(folder))
  assert 'planted_feature' not in sys.modules
  assert not (tmp_path / 'ran').exists()
