"""Optional: deepface's Keras face-recognition models as identity encoders (extra ``[deepface]``).

deepface downloads its weights from GitHub/Hugging Face on first use; keras-facesr never does.
Where deepface is installed and its weights file is already on disk (``$DEEPFACE_HOME/.deepface/
weights/``, as deepface stores them, or a path given here), its own model-building code is
run with the download step pointed at that file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from keras_facesr.recognition.encoders import EncoderError, IdentityEncoder, register_encoder
from keras_facesr.templates import ARCFACE_TEMPLATE

# name -> (deepface module, builder, weights file, input size, normalisation)
MODELS = {
    "deepface-arcface": ("deepface.models.facial_recognition.tf.ArcFace", "load_model",
                         "arcface_weights.h5", 112, "arcface"),
    "deepface-facenet512": ("deepface.models.facial_recognition.tf.Facenet", "load_facenet512d_model",
                            "facenet512_weights.h5", 160, "per_image"),
}


def weights_path(name: str) -> Path:
    """Where deepface keeps ``name``'s weights."""
    home = Path(os.environ.get("DEEPFACE_HOME", Path.home()))
    return home / ".deepface" / "weights" / MODELS[name][2]


def load(name: str, weights: str | Path | None = None) -> IdentityEncoder:
    """deepface model ``name`` with the local ``weights`` file (default: deepface's own place)."""
    if name not in MODELS:
        raise EncoderError(f"unknown deepface model {name!r} (known: {', '.join(MODELS)})")
    module_name, builder, _, size, normalisation = MODELS[name]
    try:
        module = importlib.import_module(module_name)
        from deepface.commons import weight_utils
    except ImportError as e:
        raise EncoderError(f"{name}: deepface is not installed (pip install "
                           f"'keras-facesr[deepface]'): {e}") from None
    weights = Path(weights) if weights else weights_path(name)
    if not weights.is_file():
        raise EncoderError(f"{name}: weights file {weights} not found; keras-facesr does not download "
                           "(deepface fetches it on a machine with internet; copy it there)")
    download = weight_utils.download_weights_if_necessary
    weight_utils.download_weights_if_necessary = lambda *args, **kwargs: str(weights)
    try:
        model = getattr(module, builder)()
    except ValueError as e:
        raise EncoderError(f"{weights}: not {name}'s weights ({e.__cause__ or e})") from None
    finally:
        weight_utils.download_weights_if_necessary = download
    return IdentityEncoder(model, size, ARCFACE_TEMPLATE.copy(), normalisation, name)


def register() -> None:
    """Register the deepface models; each is available when deepface and its weights are."""
    def available(name: str) -> bool:
        return importlib.util.find_spec("deepface") is not None and weights_path(name).is_file()

    for name in MODELS:
        register_encoder(name, lambda n=name: load(n), available=lambda n=name: available(n))
