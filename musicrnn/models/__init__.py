"""Keras 3 models, one file per family: ids in, logits out, no file I/O.

`build_model(config, codec, controls)` makes and builds the model a config
names in `config.family` (the name of the family's file here); the trainer
and generator call it, never a family directly. A family subclasses one
protocol (`protocols`: next-token model, multi-head model, frame model,
joint frame model, adversarial pair, latent-variable model), which names its task
(`musicrnn.tasks`). Its constructor takes the config's `model` section as
its keyword arguments (and `get_config()` gives them back), plus what comes
from the data (`data_arguments(codec, controls)`: vocabulary size and
control sizes, or a piano roll's shape); `example_inputs(controls)` is a
batch of one that builds it.

  event_lstm         Performance RNN and Polyphony RNN (LSTM or GRU stack)
  music_transformer  relative-attention decoder (Music Transformer)
  dilated_cnn        WaveNet-style causal convolutions
  tcn                Bai et al.'s temporal convolutional network over frames,
                     a sigmoid per bit
  pianoroll_gan      convolutional WGAN-GP over multi-bar piano rolls
  pianoroll_lstm     the recurrent stack over frame rolls, a sigmoid per bit
  note_lstm          the recurrent stack over note tuples, a softmax head
                     each for chord, offset and duration
  rnn_nade           the recurrent stack over key frames setting the biases
                     of a NADE over the next frame (Pianoroll RNN-NADE)
  event_sequence_rnn Magenta's Melody and Drums RNN: the inputs of note-seq's
                     encoder-decoders built from event ids, an LSTM stack
                     (with Magenta's attention), a softmax over its classes
  music_vae          MusicVAE: a bidirectional LSTM encoder to a Gaussian
                     latent, a flat or hierarchical (conductor) LSTM decoder
  protocols          what a family is: the abstract bases above
  recurrent          the recurrent stack and step the LSTM families share,
                     and Magenta's attention cell
  inputs             the token and control-signal inputs the event models share

Importing the package imports every module of its folder: a family
registers its class when it is defined, so a new family is one more file.
"""

from musicrnn import modules
from musicrnn.errors import UsageError
from musicrnn.models import protocols

modules.import_all(__name__, __path__)

# family -> its model class, each family registered by its own file
# (`protocols.FAMILIES`).
FAMILIES = protocols.FAMILIES
TRAINABLE_FAMILIES = tuple(sorted(FAMILIES))


def model_class(family):
  """The Keras model class of `family`."""
  if family not in FAMILIES:
    raise UsageError(f'model family {family!r} cannot be trained yet; trainable '
                     f'families: {", ".join(TRAINABLE_FAMILIES)}')
  return FAMILIES[family]


def build_model(config, codec, controls):
  """The Keras model of `config.family`, built (its weights made).

  Args:
    config: a musicrnn config (ConfigDict or its dict).
    codec: the config's codec.
    controls: [(name, control)] from
      `musicrnn.encodings.controls_from_config`.
  """
  family = config['family']
  cls = model_class(family)
  model = cls(**cls.data_arguments(codec, controls), **dict(config['model']),
              name=family)
  model(model.example_inputs(controls))
  return model
