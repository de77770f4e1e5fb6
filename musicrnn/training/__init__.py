"""Training: one loop for every model family (`trainer.train`).

  trainer      the loop: data, strategy, checkpoints, logging, evaluation
  objectives   what one step of each family does: next-token NLL, the GAN's
               critic and generator updates, multi-label and multi-head
               losses
  compilation  XLA, static input shapes and precision of the steps
  run_dir      a run's folder: config.json, checkpoints, loading a run back
  strategy     tf.distribute strategies by name
  model_file   a run as one .mrnn file, and back; --init_from weights
  magenta      Magenta's Performance RNN / Polyphony RNN checkpoints as runs
"""
