"""The manual (README.md and docs/*.md) stays true to the programs.

Every command line in a ```sh block (and every inline `musicrnn_... --flag`)
that runs a musicrnn console script is checked without running it: the script
is one of setup.py's console_scripts; each --flag is one the program defines
(or a flag musicrnn.cli or absl defines for every program), or, for the
programs that pass Beam pipeline options through (`cli.run(main, beam=True)`),
an option musicrnn.pipelines.beam_utils accepts; --config names a registered
config, and --hparams and dotted --config.a.b=value overrides name keys of that
config with values of the right type; a flag's value must parse (an enum's
choices, a number within its bounds). `tfds build` commands are parsed by
tfds's own parser, and their builder and --config must exist. Relative links must point at files (and
headings) that exist, and README.md must link every guide in docs/.
"""

import ast
import contextlib
import glob
import importlib
import io
import os
import re
import shlex
from unittest import mock

import pytest

import testing_lib

ROOT = testing_lib.REPO_ROOT
PLACEHOLDER = '...'    # `--config=... --train_data=...`: any value


def _markdown_files():
  docs = sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))
  return [os.path.join(ROOT, 'README.md')] + docs


def _rel(path):
  return os.path.relpath(path, ROOT)


def _console_scripts():
  """{script name: module} from setup.py's console_scripts."""
  with open(os.path.join(ROOT, 'setup.py')) as f:
    tree = ast.parse(f.read())
  scripts = {}
  for node in ast.walk(tree):
    if (isinstance(node, ast.Constant) and isinstance(node.value, str) and
        node.value.startswith('musicrnn_') and '=' in node.value):
      name, target = node.value.split('=', 1)
      # `musicrnn.programs:train` launches the entry point musicrnn.train.
      module, launcher = target.strip().split(':', 1)
      scripts[name.strip()] = (f'musicrnn.{launcher}'
                               if module == 'musicrnn.programs' else module)
  return scripts


# --- Extracting the commands -------------------------------------------------

_FENCE = re.compile(r'^\s*```\s*(\S*)')
_INLINE = re.compile(r'`((?:\.venv/bin/)?musicrnn_\w+ --[^`]*)`')
_SEPARATORS = {'&&', '||', ';', '|', '&'}
_ENV_ASSIGNMENT = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*=')
_SCRIPT = re.compile(r'^(?:\S*/)?(musicrnn_\w+)$')


def _shell_lines(path):
  """(line number, command, is a mention) of every ```sh block's command
  lines (a line ending in `\\` joined with the next) and of every inline
  `musicrnn_... --flag` outside the blocks (a mention); and the line numbers
  of the lines in blocks that start with a flag but continue no command."""
  with open(path) as f:
    lines = f.read().splitlines()
  commands, orphans = [], []
  fence = None           # the open block's language, '' for none
  pending, start = None, None
  for number, line in enumerate(lines, 1):
    opened = _FENCE.match(line)
    if opened:
      if fence is None:
        fence = opened.group(1)
      else:
        if pending is not None:
          commands.append((start, pending, False))
          pending = None
        fence = None
      continue
    if fence is None:
      commands.extend((number, m.group(1), True) for m in _INLINE.finditer(line))
      continue
    if fence not in ('sh', 'bash', 'shell'):
      continue
    text = line.strip()
    if pending is None:
      if not text or text.startswith('#'):
        continue
      if text.startswith('-'):
        orphans.append(number)
      pending, start = '', number
    continued = text.endswith('\\')
    pending += ' ' + (text[:-1] if continued else text)
    if not continued:
      commands.append((start, pending.strip(), False))
      pending = None
  return commands, orphans


def _tokens(command):
  lexer = shlex.shlex(command, posix=True, punctuation_chars=';&|')
  lexer.whitespace_split = True
  lexer.commenters = '#'
  return list(lexer)


def _invocations(command):
  """(program, args) of every simple command in `command` that runs a
  musicrnn console script (program: the script's name) or `tfds build`
  (program: 'tfds build')."""
  segment = []
  for token in _tokens(command) + ['&&']:
    if token in _SEPARATORS:
      while segment and _ENV_ASSIGNMENT.match(segment[0]):
        segment.pop(0)
      match = _SCRIPT.match(segment[0]) if segment else None
      if match:
        yield match.group(1), segment[1:]
      elif segment[:2] == ['tfds', 'build'] or (
          len(segment) > 1 and segment[0].endswith('/tfds') and
          segment[1] == 'build'):
        yield 'tfds build', segment[2:]
      segment = []
    else:
      segment.append(token)


# --- What each program accepts -----------------------------------------------

class _Program:
  """What one entry point's command line accepts."""

  def __init__(self, module_name, flag_values, beam):
    self.module_name = module_name
    self.beam = beam
    self.own = {f.name for f in flag_values.get_flags_for_module(module_name)}
    self.flags = {}
    for name in flag_values:
      defined_by = flag_values.find_module_defining_flag(name) or ''
      shared = (defined_by.startswith('musicrnn.') and
                defined_by not in testing_lib.ENTRY_POINTS) or \
          defined_by in ('absl.app', 'absl.logging', 'absl.flags')
      if name in self.own or shared:
        self.flags[name] = flag_values[name]
    self.config_default = (flag_values['config'].default
                           if 'config' in self.own else None)


@pytest.fixture(scope='module')
def programs():
  """{script: _Program}: each entry point loaded as tests/testing_lib loads
  a program (its flags alone among the programs'), and how it calls
  cli.run."""
  # pylint: disable=import-outside-toplevel
  from absl import flags
  from musicrnn import cli
  found = {}
  try:
    for script, module_name in _console_scripts().items():
      module = testing_lib._load_program(module_name)  # pylint: disable=protected-access
      calls = []
      with mock.patch.object(cli, 'run', lambda main, **kw: calls.append(kw)):
        module.run()
      assert len(calls) == 1, f'{module_name}.run() did not call cli.run once'
      found[script] = _Program(module_name, flags.FLAGS,
                               beam=calls[0].get('beam', False))
  finally:
    for name in list(flags.FLAGS):   # as testing_lib.run_program leaves them
      if flags.FLAGS.find_module_defining_flag(name) in testing_lib.ENTRY_POINTS:
        delattr(flags.FLAGS, name)
  return found


# --- Checking one command ----------------------------------------------------

def _first_line(error, limit=300):
  text = str(error).splitlines()[0] if str(error) else repr(error)
  return text if len(text) <= limit else text[:limit] + '...'


def _check_config(program, given, hparams, overrides):
  """Errors of --config, --hparams and --config.a.b=value."""
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  from musicrnn.errors import UsageError
  if given is not None and PLACEHOLDER in given:
    return []
  name = given if given is not None else program.config_default
  if name is not None and name not in configs.names():
    return [f'--config={name} is not a registered config (musicrnn.configs)']
  if not hparams and not overrides:
    return []
  if name is not None:
    try:
      configs.apply_overrides(configs.get_config(name), hparams=hparams,
                              overrides=overrides)
    except UsageError as e:
      return [f'--config={name}: {_first_line(e)}']
    return []
  # No config named (a Magenta bundle brings its own): each key must be one
  # some config has.
  errors = []
  keys = list(configs.parse_hparams(hparams)) + list(overrides)
  for key in keys:
    for candidate in configs.names():
      try:
        configs.apply_overrides(configs.get_config(candidate),
                                overrides={key: _value_of(key, hparams, overrides)})
        break
      except UsageError:
        continue
    else:
      errors.append(f'hparam {key!r} is in no registered config')
  return errors


def _value_of(key, hparams, overrides):
  # pylint: disable=import-outside-toplevel
  from musicrnn import configs
  if key in overrides:
    return overrides[key]
  return configs.parse_hparams(hparams)[key]


def _check_invocation(script, args, programs, scripts, mention=False):
  """Errors of one musicrnn command line; [] when it is right. A `mention`
  (inline in the text: `musicrnn_train --seed`) may name flags without
  their values."""
  # pylint: disable=import-outside-toplevel
  from absl import flags
  from musicrnn.errors import UsageError
  from musicrnn.pipelines import beam_utils
  if script not in scripts:
    return [f'{script} is not a console script of setup.py '
            f'({", ".join(sorted(scripts))})']
  program = programs[script]
  errors, beam_args, overrides = [], [], {}
  values = {}
  args = list(args)
  while args:
    arg = args.pop(0)
    if arg.startswith('--config.'):
      if '=' not in arg:
        errors.append(f'{arg} needs a value: --config.path=value')
        continue
      if 'config' not in program.own:
        errors.append(f'{arg}: {script} has no --config to override')
        continue
      key, value = arg[len('--config.'):].split('=', 1)
      overrides[key] = value
      continue
    if not arg.startswith('-') or arg in ('-', '--'):
      errors.append(f'unexpected argument {arg!r}')
      continue
    name, has_value, value = arg.lstrip('-').partition('=')
    flag = program.flags.get(name)
    if flag is None and name.startswith('no') and not has_value:
      negated = program.flags.get(name[2:])
      if negated is not None and negated.boolean:
        continue
    if flag is None:
      if program.beam:
        beam_args.append(arg)
      else:
        errors.append(f'unknown flag --{name}')
      continue
    if not has_value and flag.boolean:
      values[name] = 'true'
      continue
    if not has_value:          # `--flag value`
      if not args:
        if not mention:
          errors.append(f'--{name} needs a value')
        continue
      value = args.pop(0)
    if PLACEHOLDER not in value:
      try:
        flag._parse(value)  # pylint: disable=protected-access
      except flags.Error as e:
        errors.append(_first_line(e).replace('flag --', '--', 1))
    values[name] = value
  if beam_args:
    try:
      beam_utils.make_pipeline_options(beam_args, own_flags=sorted(program.own))
    except UsageError as e:
      errors.append(f'{_first_line(e)} (Beam pipeline options: {beam_args})')
  if 'config' in program.own:
    errors += _check_config(program, values.get('config'),
                            values.get('hparams', ''), overrides)
  return errors


def _check_tfds_build(args):
  """Errors of `tfds build args`: its flags (tfds's own parser), the module
  of --imports, the builder and its --config (a musicrnn builder config's
  musicrnn config and hparams)."""
  # pylint: disable=import-outside-toplevel
  import tensorflow_datasets as tfds
  from tensorflow_datasets.scripts.cli import build as tfds_build
  from tensorflow_datasets.scripts.cli import main as tfds_main
  from musicrnn.errors import UsageError
  stderr = io.StringIO()
  try:
    with contextlib.redirect_stderr(stderr):
      parsed = tfds_main._parse_flags(['tfds', 'build', *args]).command  # pylint: disable=protected-access
  except SystemExit:
    return [(stderr.getvalue().strip().splitlines() or ['cannot parse'])[-1]]
  generation, errors = parsed.generation, []
  for module in filter(None, (generation.imports or '').split(',')):
    try:
      importlib.import_module(module.strip())
    except ImportError as e:
      errors.append(f'--imports={module}: {_first_line(e)}')
  for dataset in parsed.positional_datasets + parsed.datasets:
    name = dataset.split('/', 1)[0].split(':', 1)[0]
    try:
      builder_cls = tfds.builder_cls(name)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f'no TFDS builder {name!r}: {_first_line(e)}')
      continue
    try:
      config = tfds_build._get_config_name(  # pylint: disable=protected-access
          builder_cls, None, generation.config, generation.config_idx)
    except (ValueError, TypeError) as e:
      errors.append(f'{name}: {_first_line(e)}')
      continue
    if isinstance(config, str):
      found = [c for c in builder_cls.BUILDER_CONFIGS if c.name == config]
      if not found:
        errors.append(f'{name} has no builder config {config!r}')
        continue
      config = found[0]
    if hasattr(config, 'resolved'):
      try:
        config.resolved()
      except UsageError as e:
        errors.append(f'{name}: {_first_line(e)}')
  return errors


# --- The tests ---------------------------------------------------------------

def _all_commands():
  for path in _markdown_files():
    commands, _ = _shell_lines(path)
    for number, command, mention in commands:
      for script, args in _invocations(command):
        yield _rel(path), number, script, args, mention


def test_the_manual_has_guides_and_commands():
  guides = [p for p in _markdown_files() if os.sep + 'docs' + os.sep in p]
  assert guides, 'no docs/*.md'
  scripts = {command[2] for command in _all_commands()} - {'tfds build'}
  # Every program is shown at least once.
  assert set(_console_scripts()) <= scripts, set(_console_scripts()) - scripts


def test_every_command_in_the_manual_is_valid(programs):
  scripts = _console_scripts()
  errors = []
  for path, number, script, args, mention in _all_commands():
    if script == 'tfds build':
      found = _check_tfds_build(args)
    else:
      found = _check_invocation(script, args, programs, scripts, mention)
    errors.extend(f'{path}:{number}: {script}: {error}' for error in found)
  assert not errors, 'commands in the manual that would fail:\n' + '\n'.join(errors)


def test_no_shell_line_continues_a_command_that_ended():
  errors = []
  for path in _markdown_files():
    for number in _shell_lines(path)[1]:
      errors.append(f'{_rel(path)}:{number}: a line of flags with no command '
                    '(the line before lacks its `\\`?)')
  assert not errors, '\n'.join(errors)


def test_the_checker_finds_what_is_wrong(programs):
  """The checks above fail where a command is wrong."""
  scripts = _console_scripts()

  def errors(command):
    (script, args), = _invocations(command)
    return _check_invocation(script, args, programs, scripts)

  ok = ('.venv/bin/musicrnn_train --config=polyphony --train_data=d '
        '--run_dir=r --hparams="batch_size=8,rnn_layer_sizes=[64,64]" '
        '--config.model.cell=gru --noverbose')
  assert errors(ok) == []
  assert errors('.venv/bin/musicrnn_train --config=polyphony --epochs=3') == [
      'unknown flag --epochs']
  assert 'not a console script' in errors('musicrnn_fit --config=polyphony')[0]
  assert 'not a registered config' in errors(
      'musicrnn_train --config=polyphonic --train_data=d')[0]
  assert 'unknown hparam' in errors(
      'musicrnn_train --config=polyphony --hparams=batch=3')[0]
  assert 'hparam' in errors(
      'musicrnn_train --config=polyphony --hparams=batch_size=[3]')[0]
  assert 'unknown hparam' in errors(
      'musicrnn_create_dataset --config=polyphony --config.data.splt=folder')[0]
  # Beam options pass through convert and create_dataset, nothing else does.
  assert errors('musicrnn_convert --input_dir=a --output_file=b '
                '--runner=DataflowRunner --project=p --direct_num_workers=2') == []
  assert 'unknown flag --direct_workers' in errors(
      'musicrnn_convert --input_dir=a --output_file=b --direct_workers=2')[0]
  assert errors('musicrnn_generate --run_dir=r --runner=DataflowRunner') == [
      'unknown flag --runner']
  assert errors('musicrnn_train --config=polyphony --strategy=many')[0].startswith(
      '--strategy=many: ')
  assert errors('musicrnn_train --config=polyphony --num_steps -3')[0].startswith(
      '--num_steps=-3: ')
  # Several commands on a line, environment assignments before one.
  invocations = list(_invocations(
      'python3 -m venv .venv && .venv/bin/musicrnn_quickstart --output_dir=q; '
      'TF_CONFIG=\'{"a": 1}\' musicrnn_train --strategy=multi_worker &'))
  assert [s for s, _ in invocations] == ['musicrnn_quickstart', 'musicrnn_train']


def test_the_tfds_checker_finds_what_is_wrong():
  imports = '--imports=musicrnn.pipelines.tfds_builders'
  assert _check_tfds_build(['musicrnn', imports, '--config=polyphony',
                            '--manual_dir=m', '--data_dir=d']) == []
  assert 'unrecognized arguments: --manul_dir=m' in _check_tfds_build(
      ['musicrnn', imports, '--manul_dir=m'])[0]
  assert _check_tfds_build(['musicrnn', imports, '--config=polyphonic']) == [
      "musicrnn has no builder config 'polyphonic'"]
  assert 'unknown hparam' in _check_tfds_build(
      ['musicrnn', imports, '--config={"name": "x", "musicrnn_config": '
       '"polyphony", "hparams": "max_event=3"}'])[0]


# --- Links -------------------------------------------------------------------

_LINK = re.compile(r'(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
_HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')


def _anchors(path):
  """GitHub's anchors for the headings of a Markdown file."""
  anchors, seen, fence = set(), {}, False
  with open(path) as f:
    for line in f:
      if _FENCE.match(line):
        fence = not fence
        continue
      heading = None if fence else _HEADING.match(line)
      if not heading:
        continue
      text = re.sub(r'[^\w\- ]', '', heading.group(2).strip().lower())
      slug = text.replace(' ', '-')
      count = seen.get(slug, 0)
      seen[slug] = count + 1
      anchors.add(slug if count == 0 else f'{slug}-{count}')
  return anchors


def _links(path):
  """(line number, target) of every link outside code blocks."""
  found, fence = [], False
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if _FENCE.match(line):
        fence = not fence
        continue
      if not fence:
        line = re.sub(r'`[^`]*`', '', line)
        found.extend((number, m.group(1)) for m in _LINK.finditer(line))
  return found


def _link_target(path, target):
  """(file the link opens, anchor or None); file None for other sites."""
  if re.match(r'^[a-z][a-z0-9+.-]*:', target):   # https:, mailto:, ...
    return None, None
  file_part, _, anchor = target.partition('#')
  file_path = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
               if file_part else path)
  return file_path, anchor or None


def test_every_relative_link_points_at_what_exists():
  errors = []
  for path in _markdown_files():
    for number, target in _links(path):
      file_path, anchor = _link_target(path, target)
      if file_path is None:
        continue
      where = f'{_rel(path)}:{number}: link {target}'
      if not os.path.exists(file_path):
        errors.append(f'{where}: {_rel(file_path)} does not exist')
      elif anchor and file_path.endswith('.md') and \
          anchor not in _anchors(file_path):
        errors.append(f'{where}: {_rel(file_path)} has no heading #{anchor}')
  assert not errors, '\n'.join(errors)


def test_readme_links_every_guide():
  readme = os.path.join(ROOT, 'README.md')
  linked = {_link_target(readme, target)[0] for _, target in _links(readme)}
  guides = glob.glob(os.path.join(ROOT, 'docs', '*.md'))
  missing = sorted(_rel(g) for g in guides if os.path.normpath(g) not in linked)
  assert not missing, f'README.md links no {missing}'
