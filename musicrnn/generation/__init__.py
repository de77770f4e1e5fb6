"""Generation's building blocks, which the tasks (`musicrnn.tasks`) compose.

  sampler   one compiled sampling loop (temperature, top-k, top-p), beam
            search, per-head and frame sampling; a latent model's decoding
            loop and its encoder
  latent    a latent-variable model's latent space: music's windows and
            their z, decoding, interpolation, attribute vectors
  primers   what generated music continues, as a codec's ids
  outputs   the token loop of the token tasks, option checks, the files
            written (MIDI, and PNG and WAV through render)
  render    NoteSequence -> MIDI, a piano-roll PNG, WAV audio

Generating from a run folder is `musicrnn.runs.generate`.
"""
