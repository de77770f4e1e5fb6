"""musicrnn: Magenta-style symbolic music generation on TensorFlow 2 / Keras 3.

Layers, lowest first. A module imports only from its own layer and those
below it, and no two packages import each other, not even inside a function
(tests/test_imports.py reads this table):

  0  encodings, console, errors, modules, paths, splits
  1  configs, models
  2  tfrecords
  3  pipelines
  4  generation, metrics
  5  tasks
  6  runs
  7  training, web
  8  attribute_vector, cli, convert, create_dataset, evaluate, export,
     generate, import_magenta, programs, quickstart, studio, train

  encodings   NoteSequence <-> token ids or piano rolls, control signals (numpy)
  configs     named configs: an encoding, a model family and its hparams
  models      Keras 3 models, one file per family, and the protocols a family
              declares (next-token model, multi-head model, frame model,
              joint frame model, adversarial pair, latent-variable model)
  tfrecords   the SequenceExample schema, dataset.json, tf.data input
  pipelines   Beam: music files -> NoteSequences -> SequenceExamples; the
              TFDS builders that run them
  generation  sampling loops, primers, MIDI / PNG / WAV output
  metrics     musical statistics of generated and real music
  tasks       what each kind of model is trained and used for: its step and
              loss, evaluation, generation and export, in one registry
  runs        a trained run's folder, and generating from, evaluating and
              exporting it
  training    the one trainer, distribution strategies, XLA and precision
  web         the studio: a page over runs' tasks (its state, HTTP server
              and static assets)

console, errors, modules, paths and splits are the small modules every layer
shares; the modules of layer 8 are the entry points (the absl binaries and
`cli`, the only modules that define flags; `programs` holds the console
scripts that start them).
"""

__version__ = '0.1.0'
