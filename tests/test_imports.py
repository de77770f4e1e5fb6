"""Imports run downward: no cycles among musicrnn's modules, and each module
imports only from its own layer or below (DESIGN.md, "Imports run downward").

The graph is read from the source with `ast`, nothing is imported: every
`import` and `from ... import` of a musicrnn module, at module level or in a
function. `import musicrnn.a.b` and `from musicrnn.a import b` (b a module)
import musicrnn.a.b; `from musicrnn.a import name` imports musicrnn.a, the
package's __init__. Python also runs a package's __init__ before any module
of it; that edge is not counted, so an __init__ may import its own modules
to re-export or register them (`encodings`, `configs`), as long as those
modules do not import the package back by its name.
"""

import ast
import collections
import dataclasses
import os

import testing_lib

PACKAGE = 'musicrnn'

# Layers along the data flow, lowest first: {module or package: layer}. A
# module's layer is that of its longest entry (the bare 'musicrnn' is the
# package's __init__ only). A module imports from its own layer or below.
LAYERS = {
    # Numpy-only codecs, and the small modules every layer uses (the hash
    # train/eval split, errors, paths, console output).
    'musicrnn': 0,
    'musicrnn.console': 0,
    'musicrnn.encodings': 0,
    'musicrnn.errors': 0,
    'musicrnn.paths': 0,
    'musicrnn.splits': 0,
    # Named configs (plain data); Keras models, ids in, logits out.
    'musicrnn.configs': 1,
    'musicrnn.models': 1,
    # The SequenceExample schema, dataset.json and the tf.data readers.
    'musicrnn.tfrecords': 2,
    # Beam pipelines, and the TFDS builders that run them (MakeExamples).
    'musicrnn.pipelines': 3,
    'musicrnn.tfrecords.tfds_builders': 3,
    # What uses data and models: the trainer, generation, metrics.
    'musicrnn.generation': 4,
    'musicrnn.metrics': 4,
    'musicrnn.training': 4,
    # Entry points: the absl binaries and `cli`, the only modules with flags,
    # and `programs`, the console scripts that launch them.
    'musicrnn.cli': 5,
    'musicrnn.convert': 5,
    'musicrnn.create_dataset': 5,
    'musicrnn.evaluate': 5,
    'musicrnn.generate': 5,
    'musicrnn.import_magenta': 5,
    'musicrnn.export': 5,
    'musicrnn.programs': 5,
    'musicrnn.quickstart': 5,
    'musicrnn.train': 5,
}
LAYER_NAMES = ('encodings and utilities', 'configs and models', 'tfrecords',
               'pipelines', 'training, generation and metrics', 'entry points')


@dataclasses.dataclass(frozen=True)
class Import:
  """One import statement of a musicrnn module by another."""
  source: str      # importing module, e.g. 'musicrnn.pipelines.dataset'
  target: str      # imported module (a package: its __init__)
  where: str       # 'musicrnn/pipelines/dataset.py:34'
  statement: str   # the statement as written

  def __str__(self):
    return f'{self.where}: {self.statement}'


def _modules():
  """{module name: path relative to the repository} of every musicrnn module."""
  modules = {}
  for folder, dirs, files in os.walk(os.path.join(testing_lib.REPO_ROOT, PACKAGE)):
    dirs[:] = sorted(d for d in dirs if d != '__pycache__')
    for name in files:
      if name.endswith('.py'):
        path = os.path.relpath(os.path.join(folder, name), testing_lib.REPO_ROOT)
        parts = path[:-len('.py')].split(os.sep)
        if parts[-1] == '__init__':
          parts.pop()
        modules['.'.join(parts)] = path
  return modules


def _is_ours(name):
  return name == PACKAGE or name.startswith(PACKAGE + '.')


def imports_of(module, path, source, modules):
  """(imports of musicrnn modules, names that resolve to no module).

  Args:
    module: the importing module's name.
    path: its file, relative to the repository (for messages).
    source: its text.
    modules: every module name (packages by their own name).
  """
  found, unresolved = [], []
  is_package = os.path.basename(path) == '__init__.py'

  def add(node, target):
    where = f'{path}:{node.lineno}'
    if target in modules:
      found.append(Import(module, target, where, ast.unparse(node)))
    else:
      unresolved.append(f'{where}: {ast.unparse(node)} ({target} is no module)')

  for node in ast.walk(ast.parse(source, path)):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if _is_ours(alias.name):
          add(node, alias.name)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        package = module.split('.')
        if not is_package:
          package.pop()
        package = package[:len(package) - (node.level - 1)]
        base = '.'.join(package + ([base] if base else []))
      if not _is_ours(base):
        continue
      for alias in node.names:
        submodule = f'{base}.{alias.name}'
        add(node, submodule if submodule in modules else base)
  return found, unresolved


def _graph():
  """({source: {target: [Import, ...]}}, unresolved imports)."""
  modules = _modules()
  graph = {name: collections.defaultdict(list) for name in modules}
  unresolved = []
  for name, path in sorted(modules.items()):
    with open(os.path.join(testing_lib.REPO_ROOT, path), encoding='utf-8') as f:
      found, missing = imports_of(name, path, f.read(), modules)
    for edge in found:
      graph[name][edge.target].append(edge)
    unresolved += missing
  return graph, unresolved


def _strongly_connected(graph):
  """The strongly connected components of `graph` (Tarjan), each sorted."""
  index, low, on_stack, stack, components = {}, {}, set(), [], []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for target in graph[node]:
      if target not in index:
        visit(target)
        low[node] = min(low[node], low[target])
      elif target in on_stack:
        low[node] = min(low[node], index[target])
    if low[node] == index[node]:
      component = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
          break
      components.append(sorted(component))

  for node in sorted(graph):
    if node not in index:
      visit(node)
  return components


def _shortest_cycle(graph, start, members):
  """The imports of a shortest cycle from `start` back to it within `members`."""
  previous = {start: None}
  queue = collections.deque([start])
  while queue:
    node = queue.popleft()
    for target in sorted(graph[node]):
      if target not in members:
        continue
      if target == start:
        chain = [graph[node][start][0]]
        while previous[node] is not None:
          chain.append(graph[previous[node]][node][0])
          node = previous[node]
        return chain[::-1]
      if target not in previous:
        previous[target] = node
        queue.append(target)
  raise AssertionError(f'{start} is on no cycle of {members}')


def find_cycles(graph):
  """[(members, [cycle as a list of Imports, ...])] of each import cycle: a
  strongly connected component of more than one module, or a module that
  imports itself. The cycles shown pass through every member."""
  result = []
  for members in _strongly_connected(graph):
    if len(members) == 1 and members[0] not in graph[members[0]]:
      continue
    cycles, covered = [], set()
    for member in members:
      if member not in covered:
        cycle = _shortest_cycle(graph, member, set(members))
        cycles.append(cycle)
        covered.update(edge.source for edge in cycle)
    result.append((members, cycles))
  return result


def layer_of(module):
  """The layer of `module` in LAYERS (longest entry), or None."""
  best = None
  for key in LAYERS:
    if module == key or (key != PACKAGE and module.startswith(key + '.')):
      if best is None or len(key) > len(best):
        best = key
  return None if best is None else LAYERS[best]


def _describe(layer):
  return f'{LAYER_NAMES[layer]} (layer {layer})'


def test_imports_of_reads_every_form_of_import():
  modules = {'musicrnn', 'musicrnn.a', 'musicrnn.a.b', 'musicrnn.a.c', 'musicrnn.d'}
  source = '\n'.join([
      'import os',
      'import musicrnn.a.b',
      'from musicrnn.a import c, helper',
      'from musicrnn import d as d_lib',
      'from . import b',
      'from .. import d',
      'def f():',
      '  from musicrnn.a.c import thing',
      '  import musicrnn.nothing',
  ])
  found, unresolved = imports_of('musicrnn.a.c', 'musicrnn/a/c.py', source, modules)
  assert [(edge.target, edge.where) for edge in found] == [
      ('musicrnn.a.b', 'musicrnn/a/c.py:2'),
      ('musicrnn.a.c', 'musicrnn/a/c.py:3'),
      ('musicrnn.a', 'musicrnn/a/c.py:3'),
      ('musicrnn.d', 'musicrnn/a/c.py:4'),
      ('musicrnn.a.b', 'musicrnn/a/c.py:5'),
      ('musicrnn.d', 'musicrnn/a/c.py:6'),
      ('musicrnn.a.c', 'musicrnn/a/c.py:8'),
  ]
  assert unresolved == [
      'musicrnn/a/c.py:9: import musicrnn.nothing (musicrnn.nothing is no module)']
  # In a package's __init__, '.' is the package itself.
  found, _ = imports_of('musicrnn.a', 'musicrnn/a/__init__.py', 'from . import b',
                        modules)
  assert [edge.target for edge in found] == ['musicrnn.a.b']


def test_find_cycles_shows_each_cycle_through_every_member():
  def edge(source, target):
    return Import(source, target, f'{source}.py:1', f'import {target}')

  graph = {'a': {'b': [edge('a', 'b')]}, 'b': {'c': [edge('b', 'c')]},
           'c': {'a': [edge('c', 'a')], 'd': [edge('c', 'd')]},
           'd': {'b': [edge('d', 'b')]}, 'e': {'e': [edge('e', 'e')]},
           'f': {'a': [edge('f', 'a')]}}
  cycles = {tuple(members): [[(i.source, i.target) for i in chain]
                             for chain in chains]
            for members, chains in find_cycles(graph)}
  assert cycles == {
      ('e',): [[('e', 'e')]],
      ('a', 'b', 'c', 'd'): [[('a', 'b'), ('b', 'c'), ('c', 'a')],
                             [('d', 'b'), ('b', 'c'), ('c', 'd')]],
  }


def test_every_musicrnn_import_names_a_module():
  _, unresolved = _graph()
  assert not unresolved, 'imports of musicrnn modules that do not exist:\n  ' + (
      '\n  '.join(unresolved))


def test_no_import_cycles():
  graph, _ = _graph()
  lines = []
  for members, cycles in find_cycles(graph):
    lines.append(f'{len(members)} modules import each other: {", ".join(members)}')
    for cycle in cycles:
      lines.append('  ' + ' -> '.join([cycle[0].source] + [e.target for e in cycle]))
      lines += [f'    {edge}' for edge in cycle]
  assert not lines, 'import cycles among musicrnn modules:\n' + '\n'.join(lines)


def test_imports_run_downward_through_the_layers():
  graph, _ = _graph()
  unplaced = sorted(module for module in graph if layer_of(module) is None)
  assert not unplaced, f'modules with no layer in LAYERS (add them): {unplaced}'
  stale = sorted(set(LAYERS) - set(graph))
  assert not stale, f'LAYERS names modules that do not exist: {stale}'
  upward = []
  for source, targets in sorted(graph.items()):
    for target, edges in sorted(targets.items()):
      if layer_of(target) > layer_of(source):
        upward += [f'{edge}  ({_describe(layer_of(source))} imports '
                   f'{_describe(layer_of(target))})' for edge in edges]
  assert not upward, (
      'imports that run upward (a module imports from its own layer or below; '
      'see LAYERS in tests/test_imports.py):\n  ' + '\n  '.join(upward))
