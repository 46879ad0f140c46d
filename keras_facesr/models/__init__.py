"""Stage 2, models: generator and discriminator architectures (``archs``, registries of each),
the losses (``losses``) and the SRGAN-style training model (``gan``)."""
