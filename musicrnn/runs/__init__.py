"""Runs: a trained model's folder and what is done with it.

  run_dir      a run's folder: config.json, checkpoints, loading a run back
               (its model and task)
  generate     `generate(run_dir, ...)`: the run's task samples it to MIDI
  evaluate     the run scored on a split by its task's evaluation; its
               samples' musical statistics against its data
  saved_model  the run as a SavedModel with its task's `generate` signature
  model_file   a run as one .mrnn file, and back; --init_from weights
  magenta      Magenta's Performance RNN / Polyphony RNN checkpoints as runs
"""
