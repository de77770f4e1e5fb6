"""musicrnn: Magenta-style symbolic music generation on TensorFlow 2 / Keras 3.

See DESIGN notes in the README: Beam pipelines turn MIDI/MusicXML/ABC into
NoteSequences and SequenceExamples; Keras 3 models train under one trainer and
sample under one generator.
"""

import os
import warnings

# note-seq imports pydub for audio it never uses here; pydub warns at import
# when ffmpeg is absent. The warning says nothing about musicrnn's work.
warnings.filterwarnings(
    'ignore', message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)

# TensorFlow's C++ start-up lines (oneDNN, CPU features, missing CUDA) are
# noise on every command; errors still show. Set the variable to override.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

__version__ = '0.1.0'
