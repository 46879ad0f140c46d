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
