"""Training: one loop for every model family (`trainer.train`).

  trainer      the loop: data, strategy, checkpoints, logging, evaluation;
               each step is the run's task's (`musicrnn.tasks`)
  compilation  XLA, static input shapes and precision of the steps
  strategy     tf.distribute strategies by name
"""
