"""What starting an entry point changes in its process: nothing when a
musicrnn module is only imported; the console set-up and the config
overrides of a run last for that run only."""

import ast
import contextlib
import json
import logging
import os
import subprocess
import sys

from absl import flags
import pytest

from musicrnn import cli
from musicrnn import console
import testing_lib

PACKAGE_DIR = os.path.join(testing_lib.REPO_ROOT, 'musicrnn')

# What the subprocess reports, before and after importing: the objects
# sys.stdout and sys.stderr are, the files descriptors 0-2 are, the
# environment, the root logger and the warning filters.
_IMPORT_EVERYTHING = r'''
import importlib, json, logging, os, sys, warnings

third_party, modules = json.loads(sys.argv[1])
# Named like a console script: an import-time set-up guarded by "is this a
# musicrnn program?" would run here.
sys.argv = ['musicrnn_convert']


def state():
  root = logging.getLogger()
  return {
      'sys.stdout': id(sys.stdout), 'sys.stderr': id(sys.stderr),
      'descriptors': [list(os.fstat(fd)[1:3]) for fd in (0, 1, 2)],
      'os.environ': dict(os.environ),
      'root logger': [repr(h) for h in root.handlers] + [root.level],
      'warnings.filters': [repr(f) for f in warnings.filters],
  }


for name in third_party:
  try:
    importlib.import_module(name)
  except ImportError:
    pass   # an optional library a function imports (dask)
before = state()
from absl import flags
for name in modules:
  importlib.import_module(name)
  # The entry points define flags of the same names (--config, --seed):
  # each one's go once it is imported, so that the next can define them.
  for flag in list(flags.FLAGS):
    if flags.FLAGS.find_module_defining_flag(flag) == name:
      delattr(flags.FLAGS, flag)
after = state()
print(json.dumps({'before': before, 'after': after}))
'''


def _modules_and_their_libraries():
  """(every musicrnn module, the top-level third-party packages they import,
  at module level or in a function), read from the source."""
  modules, third_party = [], set()
  for folder, dirs, files in os.walk(PACKAGE_DIR):
    dirs[:] = sorted(d for d in dirs if d != '__pycache__')
    for name in sorted(files):
      if not name.endswith('.py'):
        continue
      path = os.path.join(folder, name)
      parts = os.path.relpath(path[:-len('.py')], testing_lib.REPO_ROOT).split(os.sep)
      modules.append('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
      with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
      for node in ast.walk(tree):
        if isinstance(node, ast.Import):
          third_party.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
          third_party.add(node.module.split('.')[0])
  third_party -= set(sys.stdlib_module_names) | {'musicrnn'}
  return modules, sorted(third_party)


def test_importing_every_module_changes_nothing_process_wide():
  """Importing is not running: no musicrnn module, imported in a fresh
  process, replaces sys.stdout or sys.stderr, redirects a descriptor, sets
  an environment variable or touches logging (TensorFlow's C++ start-up
  lines are quieted when a program starts: `console.quiet`).

  The third-party packages musicrnn imports are imported first, and the
  state is compared from there: importing TensorFlow sets environment
  variables (TF2_BEHAVIOR, KMP_*, ...) and Beam gives the root logger a
  handler by themselves, and that is theirs. Not even a warning filter is
  musicrnn's: pydub's warning about ffmpeg is filtered when a program starts.
  """
  modules, third_party = _modules_and_their_libraries()
  assert 'musicrnn.cli' in modules and 'tensorflow' in third_party
  env = dict(os.environ)
  # Unset, as in a user's shell, the variables musicrnn's console sets: a
  # set-up at import would set them.
  for name in ('TF_CPP_MIN_LOG_LEVEL', 'PYTHONWARNINGS'):
    env.pop(name, None)
  result = subprocess.run(
      [sys.executable, '-c', _IMPORT_EVERYTHING, json.dumps([third_party, modules])],
      cwd=testing_lib.REPO_ROOT, env=env, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.splitlines()[-1])
  before, after = report['before'], report['after']
  assert after == before


@contextlib.contextmanager
def _as_program(*args):
  """sys.argv as `musicrnn_x args` has it; puts back after what cli.run sets
  up that a test's process keeps otherwise (argv, parsed flags, logging)."""
  saved_argv = sys.argv
  root, tf_logger = logging.getLogger(), logging.getLogger('tensorflow')
  saved_logging = root.handlers[:], root.level, tf_logger.level
  sys.argv = ['musicrnn_x', *args]
  try:
    yield
  finally:
    sys.argv = saved_argv
    flags.FLAGS.unparse_flags()
    root.handlers[:] = saved_logging[0]
    root.setLevel(saved_logging[1])
    tf_logger.setLevel(saved_logging[2])


def _run(main, *args):
  """cli.run(main) in this process, as `musicrnn_x args` runs it; its exit
  status."""
  with _as_program(*args), pytest.raises(SystemExit) as exit_info:
    cli.run(main)
  return exit_info.value.code or 0   # sys.exit(None): status 0


def test_each_run_in_a_process_has_its_own_config_overrides(monkeypatch):
  for name in ('TF_CPP_MIN_LOG_LEVEL', 'PYTHONWARNINGS'):
    monkeypatch.delenv(name, raising=False)
  stdout, environ = sys.stdout, dict(os.environ)
  seen = []

  def main(argv):
    del argv
    seen.append(cli.config_overrides())
    # The run's console is quiet, and its children are told so.
    assert isinstance(sys.stdout, console._DrainingStdout)  # pylint: disable=protected-access
    assert os.environ['TF_CPP_MIN_LOG_LEVEL'] == '2'

  assert _run(main, '--config.train.batch_size=32',
              '--config.data.split_by=folder') == 0
  assert _run(main, '--config.train.learning_rate=3e-4') == 0
  assert _run(main) == 0
  assert seen == [{'train.batch_size': '32', 'data.split_by': 'folder'},
                  {'train.learning_rate': '3e-4'}, {}]
  assert cli.config_overrides() == {}
  # The runs left this process's console as it was.
  assert sys.stdout is stdout
  assert dict(os.environ) == environ


def test_a_run_that_fails_puts_everything_back_too():
  stdout, environ = sys.stdout, dict(os.environ)

  def main(argv):
    del argv
    raise RuntimeError('a bug')

  with _as_program('--config.a=1'), pytest.raises(RuntimeError, match='a bug'):
    cli.run(main)
  assert cli.config_overrides() == {}
  assert sys.stdout is stdout
  assert dict(os.environ) == environ


@pytest.mark.parametrize('how', ['console_script', 'python_m'])
def test_a_program_is_quiet_from_its_first_import(how, tmp_path):
  """The console script (musicrnn.programs) and `python -m` quiet the
  console before the entry point imports TensorFlow: its C++ start-up
  lines (written to descriptor 2 at import) never reach the terminal."""
  args = ['--run_dir=no_such_run', f'--output={tmp_path / "x.mrnn"}']
  if how == 'console_script':
    command = [sys.executable, '-c',
               'import sys; from musicrnn import programs; '
               'sys.argv[0] = "musicrnn_export"; sys.exit(programs.export())']
  else:
    command = [sys.executable, '-m', 'musicrnn.export']
  env = dict(os.environ)
  for name in ('TF_CPP_MIN_LOG_LEVEL', 'PYTHONWARNINGS'):
    env.pop(name, None)
  result = subprocess.run(command + args, cwd=testing_lib.REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stderr[-3000:]
  lines = result.stderr.splitlines()
  assert [l for l in lines if testing_lib.LIBRARY_LINES.search(l)] == []
  assert len(lines) == 1 and 'error:' in lines[0] and 'no_such_run' in lines[0], lines
