"""Generation's building blocks, which the tasks (`musicrnn.tasks`) compose.

  sampler   one compiled sampling loop (temperature, top-k, top-p), beam
            search, per-head and frame sampling
  primers   what generated music continues, as a codec's ids
  outputs   the token loop of the token tasks, option checks, the files
            written (MIDI, and PNG and WAV through render)
  render    NoteSequence -> MIDI, a piano-roll PNG, WAV audio

Generating from a run folder is `musicrnn.runs.generate`.
"""
