"""Named configs: each binds an encoding, a model family and its hparams.

  from musicrnn import configs
  config = configs.get_config('performance_with_dynamics')
  configs.apply_overrides(config, hparams='batch_size=32,rnn_layer_sizes=[256,256]')

`configs.names()` lists every name; each config has a `<name>_tiny` variant
that trains in seconds on a CPU (tests use those). A config is an
`ml_collections.ConfigDict`, locked, so a misspelt key is an error.

  base        the pieces of every config (encoding, controls, data, train)
              and the tiny variants' shrinking (`tiny_variant`)
  performance, polyphony, music_transformer, dilated_cnn, pianoroll_gan,
  pianoroll_lstm, note_lstm, tcn, rnn_nade, melody_rnn (Melody and Drums RNN),
  music_vae (MusicVAE)
              one module per family: its configs and their defaults
  registry    names -> configs, `--hparams` and dotted overrides

The family modules register their configs with `registry.register` when they
are imported; this package imports every module of its folder (a new
family's configs are one more file here), the registry itself none.
"""

from musicrnn import modules
from musicrnn.configs.registry import apply_overrides
from musicrnn.configs.registry import get_config
from musicrnn.configs.registry import names
from musicrnn.configs.registry import parse_hparams
from musicrnn.configs.registry import to_json

modules.import_all(__name__, __path__)

__all__ = ['apply_overrides', 'get_config', 'names', 'parse_hparams', 'to_json']
