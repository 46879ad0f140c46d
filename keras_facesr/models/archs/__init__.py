"""Network architectures: generators (SRResNet, edge) and the SRGAN discriminator."""

from keras_facesr.models.archs.discriminator import build_discriminator
from keras_facesr.models.archs.generator import PixelShuffle, build_generator, load_generator, save_generator

__all__ = ["PixelShuffle", "build_discriminator", "build_generator", "load_generator", "save_generator"]
