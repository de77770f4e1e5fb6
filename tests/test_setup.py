"""The README's two commands, CI and the bundled corpus stay consistent."""

import glob
import os
import re

import testing_lib

ROOT = testing_lib.REPO_ROOT


def _readme_commands():
  with open(os.path.join(ROOT, 'README.md')) as f:
    text = f.read()
  blocks = re.findall(r'```sh\n(.*?)```', text, re.S)
  commands = []
  for block in blocks[:2]:
    lines = [l for l in block.splitlines() if l and not l.startswith('#')]
    assert len(lines) == 1, f'README block is not one command: {block!r}'
    commands.append(lines[0])
  return commands


def test_readme_opens_with_quickstart_and_test_commands():
  quickstart, tests = _readme_commands()
  for command in (quickstart, tests):
    assert command.startswith('python3 -m venv .venv && .venv/bin/pip install')
  assert 'musicrnn_quickstart' in quickstart
  assert 'pytest' in tests


def test_ci_runs_the_readme_test_command():
  _, tests = _readme_commands()
  with open(os.path.join(ROOT, '.ci', 'run')) as f:
    ci = f.read()
  assert tests in ci.splitlines()
  assert os.access(os.path.join(ROOT, '.ci', 'run'), os.X_OK)
  # The studio page's tests run in CI, never skipped for want of a browser.
  assert re.search(r'apt-get install .*chromium chromium-driver', ci)


def test_quickstart_corpus_is_bundled_with_its_licence():
  corpus = os.path.join(ROOT, 'musicrnn', 'quickstart_corpus')
  files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(corpus, '*.mid')))
  assert len(files) == 12
  with open(os.path.join(corpus, 'README.md')) as f:
    readme = f.read()
  assert 'CC BY-SA 3.0 DE' in readme and 'Bernd Krueger' in readme
  for name in files:
    assert name in readme, f'{name} is not described in the corpus README'
  with open(os.path.join(ROOT, 'setup.py')) as f:
    assert 'quickstart_corpus/*.mid' in f.read()


def test_every_fixture_is_named_in_the_testdata_readme():
  with open(testing_lib.testdata('README.md')) as f:
    readme = f.read()
  for path in glob.glob(testing_lib.testdata('*', '*')):
    name = os.path.basename(path)
    stem = name if not name.startswith('test-') else 'broken/test-*.mid'
    assert name in readme or stem in readme, f'{name} has no provenance'
