"""SequenceExample TFRecords: how datasets are written and read back.

  schema         feature names, dtypes and context fields; the serializer and
                 the parsing spec
  description    dataset.json, and whether a config can train on a dataset
  sources        one interface over a dataset folder, a TFDS dataset and a
                 TFRecord glob
  input          tf.data: records -> padded (or cropped) training batches

The TFDS builders that publish a folder of MIDI as a dataset run the Beam
pipelines: they are `musicrnn.pipelines.tfds_builders`.
"""
