"""Stage 5, the inference pipeline: detect (MTCNN, ``detect``, ``mtcnn_steps``), track
(``track``), align, super-resolve (``sr``, ``fidelity``), paste back; ``enhance`` ties them into
``FaceEnhancer`` and ``jobs`` runs it over files, folders, videos and live sources (``video``).
TensorFlow-free except where a Keras model or MTCNN's Keras networks load."""
