"""The on-device runtime: the whole detect -> align -> threshold -> SR -> paste pipeline from an
exported bundle of TFLite files, with LiteRT (``ai_edge_litert``), numpy and OpenCV only.

Install where TensorFlow is not wanted: ``pip install "keras-facesr[edge]"``. Nothing here (nor
in what it imports) imports TensorFlow.

    from keras_facesr.edge import load
    enhancer = load("bundle/")            # FaceEnhancer with TFLite MTCNN + TFLite generator
    result = enhancer.enhance("frame.jpg")
"""

from keras_facesr.edge.bundle import load, read_manifest
from keras_facesr.edge.litert import EdgeError

__all__ = ["EdgeError", "load", "read_manifest"]
