"""Imports run downward: no cycles among musicrnn's modules or between its
packages, and each module imports only from its own layer or below, as the
package docstring's table of layers says (musicrnn/__init__.py, read here).

The graph is read from the source with `ast`, nothing is imported: every
`import` and `from ... import` of a musicrnn module, at module level or in a
function. `import musicrnn.a.b` and `from musicrnn.a import b` (b a module)
import musicrnn.a.b; `from musicrnn.a import name` imports musicrnn.a, the
package's __init__. Python also runs a package's __init__ before any module
of it; that edge is not counted, so an __init__ may import its own modules
to re-export or register them (`encodings`, `configs`, `models`, `tasks`),
as long as those modules do not import the package back by its name.
"""

import ast
import collections
import dataclasses
import os
import re

import testing_lib

PACKAGE = 'musicrnn'


def read_layers(docstring):
  """{package or top-level module: layer} from the table of layers of the
  package docstring: rows '  N  name, name, ...', a row's names running on
  to lines indented further. Packages are named as musicrnn.<package>."""
  lines = docstring.splitlines()
  start = next(i for i, line in enumerate(lines) if re.match(r'\s+0\s', line))
  layers, layer = {}, None
  for line in lines[start:]:
    row = re.match(r'\s+(\d+)\s+(.*)$', line)
    if row:
      layer, names = int(row.group(1)), row.group(2)
    elif line.strip() and layer is not None and line.startswith('     '):
      names = line
    else:
      break
    for name in re.split(r'[,\s]+', names.strip()):
      if name:
        layers[f'{PACKAGE}.{name}'] = layer
  return layers


def _package_docstring():
  path = os.path.join(testing_lib.REPO_ROOT, PACKAGE, '__init__.py')
  with open(path, encoding='utf-8') as f:
    return ast.get_docstring(ast.parse(f.read()))


# {package or top-level module: layer}, as the package docstring says.
LAYERS = read_layers(_package_docstring())


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


def unit_of(module):
  """The package a module belongs to (musicrnn.<package>), or the module
  itself for a top-level module and the bare package."""
  parts = module.split('.')
  return '.'.join(parts[:2])


def layer_of(module):
  """The layer of `module`'s package or top-level module, or None."""
  return LAYERS.get(unit_of(module))


def _describe(module):
  return f'{unit_of(module)} (layer {layer_of(module)})'


def _unit_graph(graph):
  """{package or top-level module: {another: [Import, ...]}} of the imports
  between them."""
  units = collections.defaultdict(lambda: collections.defaultdict(list))
  for source, targets in graph.items():
    units[unit_of(source)]   # every unit, importing or not
    for target, edges in targets.items():
      if unit_of(target) != unit_of(source):
        units[unit_of(source)][unit_of(target)] += edges
  return units


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


def _cycle_report(graph, what):
  """A line per import cycle of `graph` and per import on it ('' when there
  is none); `what` names the nodes ('modules', 'packages')."""
  lines = []
  for members, cycles in find_cycles(graph):
    lines.append(f'{len(members)} {what} import each other: {", ".join(members)}')
    for cycle in cycles:
      lines.append('  ' + ' -> '.join([cycle[0].source] + [e.target for e in cycle]))
      lines += [f'    {edge}' for edge in cycle]
  return '\n'.join(lines)


def test_no_import_cycles():
  graph, _ = _graph()
  report = _cycle_report(graph, 'modules')
  assert not report, 'import cycles among musicrnn modules:\n' + report


def test_no_two_packages_import_each_other():
  graph, _ = _graph()
  report = _cycle_report(_unit_graph(graph), 'packages')
  assert not report, 'import cycles among musicrnn packages:\n' + report


def test_read_layers_reads_rows_and_their_continuations():
  docstring = 'Intro.\n\n  0  a, b\n  1  c\n  2  d, e,\n     f\n\n  a  text\n'
  assert read_layers(docstring) == {
      'musicrnn.a': 0, 'musicrnn.b': 0, 'musicrnn.c': 1, 'musicrnn.d': 2,
      'musicrnn.e': 2, 'musicrnn.f': 2}


def test_imports_run_downward_through_the_layers():
  graph, _ = _graph()
  unplaced = sorted({unit_of(module) for module in graph
                     if layer_of(module) is None and module != PACKAGE})
  assert not unplaced, (f'packages or modules with no layer in the table of '
                        f'musicrnn/__init__.py (add them): {unplaced}')
  stale = sorted(set(LAYERS) - {unit_of(module) for module in graph})
  assert not stale, f'the table of layers names what does not exist: {stale}'
  upward = []
  for source, targets in sorted(graph.items()):
    if source == PACKAGE:
      continue
    for target, edges in sorted(targets.items()):
      if target != PACKAGE and layer_of(target) > layer_of(source):
        upward += [f'{edge}  ({_describe(source)} imports {_describe(target)})'
                   for edge in edges]
  assert not upward, (
      'imports that run upward (a module imports from its own layer or below; '
      'see the table of layers in musicrnn/__init__.py):\n  ' + '\n  '.join(upward))


def test_the_readme_and_docs_state_no_other_layer_order():
  """The layer order is stated once: the package docstring."""
  for folder, _, files in os.walk(testing_lib.REPO_ROOT):
    if '.git' in folder or '.venv' in folder or 'node_modules' in folder:
      continue
    for name in files:
      if name.endswith('.md'):
        with open(os.path.join(folder, name), encoding='utf-8') as f:
          text = f.read()
        assert not re.search(r'encodings\s*(->|→)\s*configs', text), (
            f'{os.path.join(folder, name)} restates the layer order; point to '
            'musicrnn/__init__.py instead')
