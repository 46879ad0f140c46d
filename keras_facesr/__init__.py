"""keras-facesr: identity-preserving face super-resolution in Keras 3, with TFLite export.

Importing the package is light (no TensorFlow); the submodules that train or run Keras
models import it themselves.
"""

__version__ = "0.1.0"
