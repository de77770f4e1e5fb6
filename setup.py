"""musicrnn: Magenta-style music generation on TensorFlow 2 / Keras 3."""

import setuptools

setuptools.setup(
    name='musicrnn',
    version='0.1.0',
    description=('Beam pipelines, Keras 3 models and absl tools for symbolic '
                 'music generation (Performance RNN, Polyphony RNN, Music '
                 'Transformer, dilated CNN, piano-roll GAN).'),
    license='Apache-2.0',
    python_requires='>=3.11',
    packages=setuptools.find_packages(include=['musicrnn', 'musicrnn.*']),
    package_data={'musicrnn': ['quickstart_corpus/*.mid',
                               'quickstart_corpus/README.md',
                               # The studio page's own assets (no CDN).
                               'web/static/*']},
    install_requires=[
        # `tensorflow` runs on CPUs and GPUs alike; see the `gpu` extra.
        'tensorflow>=2.21,<2.22',
        # tf.summary's writers (TensorBoard event files).
        'tensorboard>=2.20',
        'keras>=3.10,<4',
        'note-seq>=0.0.5,<0.1',
        # note-seq's MIDI parsers, which the reader drives directly to look
        # at a file's events before pretty_midi sizes its tables by them.
        'mido>=1.3',
        'pretty-midi>=0.2.10',
        # The default MIDI parser (C++), whose NoteSequences equal note-seq's
        # (musicrnn/pipelines/fast_midi.py; tests/test_fast_midi.py).
        'symusic>=0.6,<0.7',
        'apache-beam>=2.70,<3',
        # TFRecord checksums for Beam's TFRecord sink and source.
        'google-crc32c>=1.5',
        'tensorflow-datasets>=4.9.10,<5',
        # The `tfds` command line (tfds build) imports it.
        'mlcroissant>=1.0',
        'absl-py>=2.1,<3',
        'ml-collections>=1.0,<2',
        'numpy>=1.26,<3',
        # The MATLAB files of the 2012 polyphonic benchmark
        # (musicrnn/pipelines/boulanger.py).
        'scipy>=1.11',
        # The figures of musicrnn_evaluate --samples_dir and the piano rolls
        # of musicrnn_generate --render_png.
        'matplotlib>=3.8',
        # WAV rendering (musicrnn_generate --render_wav) with the soundfont
        # pretty_midi ships: a self-contained wheel (Rust), no system library.
        # (symusic's synthesizer plays TimGM6mb.sf2 out of tune: A4 at 1660 Hz.)
        'midirenderer>=0.1.3,<0.2',
    ],
    extras_require={
        'gpu': ['tensorflow[and-cuda]>=2.21,<2.22'],
        # Beam's DaskRunner (--runner=DaskRunner --dask_client_address=...).
        'dask': ['dask[distributed]>=2024.4'],
        # hypothesis: tests/test_fuzz.py feeds mutated MIDI to the readers;
        # pytest-xdist: the suite runs on two processes (-n 2), one per core;
        # dask: tests/test_runners.py runs the pipelines on a Dask cluster.
        # selenium: tests/test_studio.py drives the studio page in Chromium.
        'test': ['pytest>=8', 'pytest-xdist>=3.5', 'hypothesis>=6.100',
                 'dask[distributed]>=2024.4', 'selenium>=4.20'],
    },
    entry_points={
        # musicrnn.programs quiets the console before it imports the entry
        # point (and with it TensorFlow, which logs at import).
        'console_scripts': [
            'musicrnn_convert=musicrnn.programs:convert',
            'musicrnn_create_dataset=musicrnn.programs:create_dataset',
            'musicrnn_quickstart=musicrnn.programs:quickstart',
            'musicrnn_train=musicrnn.programs:train',
            'musicrnn_generate=musicrnn.programs:generate',
            'musicrnn_attribute_vector=musicrnn.programs:attribute_vector',
            'musicrnn_evaluate=musicrnn.programs:evaluate',
            'musicrnn_import_magenta=musicrnn.programs:import_magenta',
            'musicrnn_export=musicrnn.programs:export',
            'musicrnn_studio=musicrnn.programs:studio',
        ],
    },
)
