"""Packages whose modules register themselves: a family's model class, its
configs, a task. The package imports every module of its folder, so adding
one is adding its file.

  modules.import_all(__name__, __path__)   # in a package's __init__
"""

import importlib
import pkgutil


def import_all(package, path):
  """Imports every module of `package` (its `__name__`) found in `path` (its
  `__path__`), in name order; returns their names."""
  names = sorted(info.name for info in pkgutil.iter_modules(path))
  for name in names:
    importlib.import_module(f'{package}.{name}')
  return names
