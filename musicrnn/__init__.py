"""musicrnn: Magenta-style symbolic music generation on TensorFlow 2 / Keras 3.

See DESIGN notes in the README: Beam pipelines turn MIDI/MusicXML/ABC into
NoteSequences and SequenceExamples; Keras 3 models train under one trainer and
sample under one generator.
"""

import warnings

# note-seq imports pydub for audio it never uses here; pydub warns at import
# when ffmpeg is absent. The warning says nothing about musicrnn's work.
warnings.filterwarnings(
    'ignore', message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)

__version__ = '0.1.0'
