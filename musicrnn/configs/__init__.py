"""Named configs: each binds an encoding, a model family and its hparams.

  from musicrnn import configs
  config = configs.get_config('performance_with_dynamics')
  configs.apply_overrides(config, hparams='batch_size=32,rnn_layer_sizes=[256,256]')

`configs.names()` lists every name; each config has a `<name>_tiny` variant
that trains in seconds on a CPU (tests use those). A config is an
`ml_collections.ConfigDict`, locked, so a misspelt key is an error.
"""

from musicrnn.configs.registry import apply_overrides
from musicrnn.configs.registry import get_config
from musicrnn.configs.registry import names
from musicrnn.configs.registry import parse_hparams
from musicrnn.configs.registry import to_json

__all__ = ['apply_overrides', 'get_config', 'names', 'parse_hparams', 'to_json']
