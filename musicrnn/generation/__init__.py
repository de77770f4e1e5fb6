"""Generation: a trained run's samples, as MIDI (and PNG, WAV) files.

  generate  `generate(run_dir, ...)`: primers, control schedules, event
            models sampled, piano-roll GANs walked through latent space
  sampler   one compiled sampling loop (temperature, top-k, top-p), beam search
  render    NoteSequence -> MIDI, a piano-roll PNG, WAV audio
  saved_model  a token model as a SavedModel with a `generate` signature
"""
