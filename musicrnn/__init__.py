"""musicrnn: Magenta-style symbolic music generation on TensorFlow 2 / Keras 3.

Packages, in data-flow order (imports run the same way: encodings -> configs,
models -> pipelines, tfrecords -> training, generation, metrics):

  encodings   NoteSequence <-> token ids or piano rolls, control signals (numpy)
  configs     named configs: an encoding, a model family and its hparams
  models      Keras 3 models, one file per family
  pipelines   Beam: music files -> NoteSequences -> SequenceExamples
  tfrecords   the SequenceExample schema, dataset.json, tf.data input, TFDS
  training    the one trainer, run folders, distribution strategies
  generation  sampling a trained run to MIDI (and PNG, WAV)
  metrics     NLL of a run on data, musical statistics of generated music

The modules here are the entry points (convert, create_dataset, train,
generate, evaluate, quickstart; flags are defined only there and in cli) and
what they and the packages share (cli, console, errors, paths, splits);
programs holds the console scripts that start them.
"""

import warnings

# note-seq imports pydub for audio it never uses here; pydub warns at import
# when ffmpeg is absent. The warning says nothing about musicrnn's work.
warnings.filterwarnings(
    'ignore', message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)

__version__ = '0.1.0'
