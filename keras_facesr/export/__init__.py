"""Stage 4, export: generators and MTCNN as SavedModel / TFLite bundles, checked for parity and
the GPU delegate (``bundle``), and the Keras vs TFLite speed table (``benchmark``)."""
