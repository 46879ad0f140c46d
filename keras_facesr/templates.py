"""Five-point face templates (left eye, right eye, nose tip, left and right mouth corners,
as seen in the image), as fractions of the aligned crop's side. numpy only."""

import numpy as np

# ArcFace's template on its 112 x 112 crop.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]], np.float32,
)
ARCFACE_TEMPLATE = ARCFACE_112 / 112.0
# keras-facesr's face crops: ArcFace's crop with 12.5% more margin on every side, so the
# whole face (chin, forehead, some hair) is super-resolved.
CANONICAL_PADDING = 0.125
CANONICAL_TEMPLATE = (ARCFACE_TEMPLATE + CANONICAL_PADDING) / (1 + 2 * CANONICAL_PADDING)

# dlib's 150 x 150 face chip (get_face_chip(..., size=150, padding=0.25)): the same five points
# taken from dlib's mean face (points 17-67 of the 68-point layout, in [0, 1]): the eye centres
# (means of points 36-41 and 42-47), nose tip (30) and mouth corners (48, 54).
_DLIB_EYE_A = np.mean([[0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743],
                       [0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077]], axis=1)
_DLIB_EYE_B = np.mean([[0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335],
                       [0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099]], axis=1)
_DLIB_MEAN_FACE = np.array([_DLIB_EYE_A, _DLIB_EYE_B, [0.490127, 0.515625], [0.254149, 0.780233],
                            [0.726104, 0.780233]], np.float32)
DLIB_PADDING = 0.25
DLIB_TEMPLATE = ((_DLIB_MEAN_FACE + DLIB_PADDING) / (1 + 2 * DLIB_PADDING)).astype(np.float32)
