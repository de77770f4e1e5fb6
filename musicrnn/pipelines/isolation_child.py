"""The isolated music reader's child process (see `isolation`):

  python -m musicrnn.pipelines.isolation_child MEMORY_MB

started by `isolation.IsolatedReader`, one per Beam DoFn instance and again
after a file that timed out, crashed or kept too much memory. note-seq's
package `__init__` imports its notebook, audio and plotting helpers (bokeh,
pandas, scipy): with them the child took 3.6 CPU seconds to import what it
needs, without them 0.7. The child uses only note-seq's parsers and
protobufs, so it enters the note_seq package without running its
`__init__`; the submodules import as usual (the readers' equality tests
against note-seq run through this child).
"""

import importlib.util
import sys


def _enter_note_seq_without_its_init():
  if 'note_seq' in sys.modules:
    return
  spec = importlib.util.find_spec('note_seq')
  # The package module, its __path__ set, its __init__ not run.
  sys.modules['note_seq'] = importlib.util.module_from_spec(spec)


if __name__ == '__main__':
  _enter_note_seq_without_its_init()
  from musicrnn.pipelines import isolation  # pylint: disable=g-import-not-at-top
  isolation.child_main(int(sys.argv[1]))
