"""Metrics: how well a run models data, and how its music compares.

  nll         a trained run scored on a dataset split (musicrnn_evaluate)
  evaluation  each training objective's evaluation: NLL, perplexity and
              accuracy; the GAN's piano-roll metrics and critic estimate
  music       musical statistics of generated against real NoteSequences
  samples     those statistics for a folder of generated MIDI and a run's data
  pianoroll   MuseGAN's piano-roll metrics (numpy only: the trainer uses them)
"""
