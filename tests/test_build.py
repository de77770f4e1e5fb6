"""BUILD stays honest: every module, entry point and test file has its target.

Bazel itself cannot run py_tests offline here (it downloads rules), so this
test reads BUILD the way Bazel would (it is Starlark, a Python subset) and
checks it against the tree and setup.py.
"""

import ast
import glob
import os

from musicrnn import programs
import testing_lib

ROOT = testing_lib.REPO_ROOT


def _load_build():
  targets = {}

  def rule(kind):
    def define(name, **kwargs):
      assert name not in targets, f'duplicate target {name}'
      targets[name] = dict(kwargs, kind=kind)
    return define

  def bazel_glob(patterns, exclude=()):
    found = set()
    for pattern in patterns:
      found.update(os.path.relpath(p, ROOT) for p in
                   glob.glob(os.path.join(ROOT, pattern), recursive=True)
                   if os.path.isfile(p))
    return sorted(found - set(exclude))

  namespace = {
      'py_library': rule('py_library'), 'py_binary': rule('py_binary'),
      'py_test': rule('py_test'), 'filegroup': rule('filegroup'),
      'glob': bazel_glob, 'package': lambda **kwargs: None,
  }
  with open(os.path.join(ROOT, 'BUILD')) as f:
    exec(compile(f.read(), 'BUILD', 'exec'), namespace)  # pylint: disable=exec-used
  return targets


def _console_scripts():
  """{script name: its entry point's path} from setup.py's console_scripts,
  which name musicrnn.programs' launchers (`musicrnn.programs:train` runs
  musicrnn/train.py)."""
  with open(os.path.join(ROOT, 'setup.py')) as f:
    tree = ast.parse(f.read())
  scripts = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
      if '=' in node.value and ':' in node.value and node.value.startswith('musicrnn_'):
        name, target = node.value.split('=', 1)
        module, launcher = target.split(':', 1)
        assert module == 'musicrnn.programs', f'{name} skips the launcher: {target}'
        assert hasattr(programs, launcher), f'{name}: no musicrnn.programs.{launcher}'
        scripts[name] = os.path.join('musicrnn', launcher + '.py')
  return scripts


def _srcs(targets, kind):
  return {src for t in targets.values() if t['kind'] == kind
          for src in t.get('srcs', [])}


def test_every_library_module_is_in_a_py_library():
  targets = _load_build()
  binaries = {t['main'] for t in targets.values() if t['kind'] == 'py_binary'}
  modules = {os.path.relpath(p, ROOT) for p in
             glob.glob(os.path.join(ROOT, 'musicrnn', '**', '*.py'), recursive=True)}
  missing = sorted(modules - binaries - _srcs(targets, 'py_library'))
  assert not missing, f'modules missing from a py_library in BUILD: {missing}'


def test_every_entry_point_is_a_py_binary():
  targets = _load_build()
  scripts = _console_scripts()
  assert scripts, 'setup.py declares no console scripts'
  for name, module in scripts.items():
    assert name in targets, f'BUILD has no target for entry point {name}'
    assert targets[name]['kind'] == 'py_binary'
    assert targets[name]['main'] == module


def test_every_benchmark_is_a_py_binary():
  targets = _load_build()
  mains = {t['main'] for t in targets.values() if t['kind'] == 'py_binary'}
  scripts = {os.path.relpath(p, ROOT) for p in
             glob.glob(os.path.join(ROOT, 'benchmarks', '*.py'))}
  scripts -= _srcs(targets, 'py_library')   # helpers the benchmarks share
  assert not scripts - mains, f'benchmarks missing from BUILD: {scripts - mains}'


def test_every_test_file_is_a_py_test():
  targets = _load_build()
  tests = {os.path.relpath(p, ROOT) for p in
           glob.glob(os.path.join(ROOT, 'tests', 'test_*.py'))}
  missing = sorted(tests - _srcs(targets, 'py_test'))
  assert not missing, f'test files missing from a py_test in BUILD: {missing}'
  helpers = {os.path.relpath(p, ROOT) for p in
             glob.glob(os.path.join(ROOT, 'tests', '*.py'))} - tests
  assert not helpers - _srcs(targets, 'py_library'), 'test helpers not in BUILD'


def test_build_names_only_files_and_targets_that_exist():
  targets = _load_build()
  for name, target in targets.items():
    for key in ('srcs', 'data'):
      for src in target.get(key, []):
        if src.startswith(':'):
          assert src[1:] in targets, f'{name} {key} names unknown {src}'
        else:
          assert os.path.exists(os.path.join(ROOT, src)), f'{name}: {src} missing'
    for dep in target.get('deps', []):
      assert dep.startswith(':') and dep[1:] in targets, f'{name}: bad dep {dep}'
    if 'main' in target:
      assert target['main'] in target['srcs'] or target['kind'] == 'py_test'
