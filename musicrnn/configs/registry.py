"""The config registry, Magenta-style `--hparams`, and dotted overrides.

The family modules (`performance`, `polyphony`, ...) register their configs
with `register`; the package (`musicrnn.configs`) imports them, so every
config is known once `musicrnn.configs` or any module of it is imported.
"""

import ast
import contextlib
import difflib
import json

import ml_collections

from musicrnn.errors import UsageError

_BUILDERS = {}


def register(name, tiny=None):
  """Decorator: registers `fn() -> ConfigDict` as `name`.

  Args:
    name: the config's name, as given to --config.
    tiny: a function that shrinks the config in place; registered as
      `<name>_tiny`.
  """

  def wrap(fn):
    _BUILDERS[name] = fn
    if tiny is not None:
      def tiny_fn():
        config = fn()
        tiny(config)
        return config
      _BUILDERS[f'{name}_tiny'] = tiny_fn
    return fn

  return wrap


def names():
  """Every config name, sorted."""
  return sorted(_BUILDERS)


def get_config(name):
  """The named config, a locked ConfigDict with `config.name` set.

  Raises:
    UsageError: unknown name; the message lists the valid names.
  """
  if name not in _BUILDERS:
    hint = difflib.get_close_matches(name or '', _BUILDERS, n=1)
    raise UsageError(
        f'unknown config {name!r}'
        + (f' (did you mean {hint[0]!r}?)' if hint else '')
        + f'; valid configs: {", ".join(sorted(_BUILDERS))}')
  config = _BUILDERS[name]()
  config.name = name
  config.lock()
  return config


def _leaf_paths(config, prefix=''):
  for key, value in config.items():
    path = f'{prefix}{key}'
    if isinstance(value, ml_collections.ConfigDict):
      yield from _leaf_paths(value, path + '.')
    else:
      yield path


def _parse_value(text):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text  # a bare word, e.g. cell=gru


def _split_hparams(text):
  """Splits 'a=1,b=[1,2],c=x' on the commas outside brackets and quotes."""
  parts, depth, quote, current = [], 0, None, []
  for ch in text:
    if quote:
      quote = None if ch == quote else quote
    elif ch in '\'"':
      quote = ch
    elif ch in '([{':
      depth += 1
    elif ch in ')]}':
      depth -= 1
    elif ch == ',' and depth == 0:
      parts.append(''.join(current))
      current = []
      continue
    current.append(ch)
  parts.append(''.join(current))
  return [p.strip() for p in parts if p.strip()]


def parse_hparams(text):
  """'batch_size=32,rnn_layer_sizes=[256,256]' -> {'batch_size': 32, ...}."""
  result = {}
  for part in _split_hparams(text or ''):
    if '=' not in part:
      raise UsageError(f'--hparams entry {part!r} is not name=value')
    key, value = part.split('=', 1)
    result[key.strip()] = _parse_value(value.strip())
  return result


def _resolve(config, key):
  """A dotted path, or a bare leaf name when exactly one leaf has it."""
  paths = list(_leaf_paths(config))
  if key in paths:
    return key
  matches = [p for p in paths if p.rsplit('.', 1)[-1] == key]
  if len(matches) == 1:
    return matches[0]
  if len(matches) > 1:
    raise UsageError(f'hparam {key!r} is ambiguous: use one of {", ".join(matches)}')
  hint = difflib.get_close_matches(key, paths + [p.rsplit('.', 1)[-1] for p in paths], n=1)
  raise UsageError(
      f'unknown hparam {key!r} for config {config.name!r}'
      + (f' (did you mean {hint[0]!r}?)' if hint else '')
      + f'; valid: {", ".join(paths)}')


def apply_overrides(config, hparams=None, overrides=None):
  """Applies Magenta-style `hparams` text and a {dotted.path: value} dict.

  Values in `overrides` may be strings (parsed as Python literals where they
  look like one). Types must match the config's: an int where a list is
  expected is an error naming the key.

  Returns:
    `config`, modified in place.
  """
  items = list(parse_hparams(hparams).items()) if hparams else []
  for key, value in (overrides or {}).items():
    items.append((key, _parse_value(value) if isinstance(value, str) else value))
  for key, value in items:
    path = _resolve(config, key)
    node = config
    *parents, leaf = path.split('.')
    for part in parents:
      node = node[part]
    current = node[leaf]
    if isinstance(current, tuple) and isinstance(value, list):
      value = tuple(value)
    try:
      with node.ignore_type() if current is None else contextlib.nullcontext():
        node[leaf] = value
    except (TypeError, ValueError) as e:
      raise UsageError(f'hparam {path}={value!r}: {e}') from e
  return config


def to_json(config):
  """The resolved config as JSON text (saved with datasets and runs)."""
  return json.dumps(config.to_dict(), indent=2, sort_keys=True)
