"""Metrics: musical statistics, computed on NoteSequences and piano rolls.

  music       musical statistics of generated against real NoteSequences
  samples     reading generated MIDI and real data for them; the report
              as JSON and a figure
  pianoroll   MuseGAN's piano-roll metrics (numpy only)

A run's scores (its task's evaluation, its samples against its data) are
`musicrnn.runs.evaluate`.
"""
