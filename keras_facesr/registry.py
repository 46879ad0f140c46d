"""Named extension points: one :class:`Registry` per kind of part, read by the config, the CLI
and the code that builds the parts.

Built-in parts are listed here as ``"module:attribute"`` strings, imported only when used, so
the config and the CLI know every name without importing TensorFlow. A new part is one file
and one registration::

    from keras_facesr.registry import GENERATORS

    @GENERATORS.register("tiny")
    def tiny(scale: int, blocks: int = 0, filters: int = 0, name: str | None = None): ...

after which ``model.generator = "tiny"`` and ``keras-facesr fit --generator tiny`` work (the
module that registers must be imported first, e.g. by the script that runs ``fit``).

What each registry holds:

- ``GENERATORS``: ``builder(scale, blocks=0, filters=0, name=None) -> keras.Model`` (0 = the
  kind's default size), :mod:`keras_facesr.models.archs.generator`.
- ``DISCRIMINATORS``: :class:`keras_facesr.models.archs.discriminator.DiscriminatorSpec`.
- ``ADVERSARIAL_LOSSES``: :class:`keras_facesr.models.losses.AdversarialLoss` (its D and G
  losses, gradient penalty, weight clipping, optimiser betas, discriminator normalisation).
- ``DETECTORS``: ``factory(min_confidence, min_face) -> Detector``
  (:class:`keras_facesr.face.detect.Detector`).
"""

from __future__ import annotations

import importlib
from typing import Any

from keras_facesr.errors import FaceSRError


class UnknownName(FaceSRError, ValueError):
    """A name no part is registered under (the message lists the known ones)."""


class Registry:
    """Parts of one kind by name; entries are objects or lazy ``"module:attribute"`` strings."""

    def __init__(self, kind: str, builtins: dict[str, str] | None = None):
        self.kind = kind
        self._entries: dict[str, Any] = dict(builtins or {})

    def register(self, name: str, part: Any = None, *, replace: bool = False):
        """Register ``part`` under ``name``; without ``part``, a decorator that registers."""
        if part is None:
            return lambda obj: self.register(name, obj, replace=replace) or obj
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._entries and not replace:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        self._entries[name] = part
        return None

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        if name not in self._entries:
            raise UnknownName(f"unknown {self.kind} {name!r} (one of {', '.join(self._entries)})")
        part = self._entries[name]
        if isinstance(part, str) and ":" in part:
            module, attr = part.split(":", 1)
            part = self._entries[name] = getattr(importlib.import_module(module), attr)
        return part


GENERATORS = Registry("generator", {
    "edge": "keras_facesr.models.archs.generator:edge",
    "srresnet": "keras_facesr.models.archs.generator:srresnet_generator",
})
DISCRIMINATORS = Registry("discriminator", {
    "srgan": "keras_facesr.models.archs.discriminator:SRGAN",
    "patch": "keras_facesr.models.archs.discriminator:PATCH",
    "unet": "keras_facesr.models.archs.discriminator:UNET",
})
ADVERSARIAL_LOSSES = Registry("adversarial loss", {
    name: f"keras_facesr.models.losses:{attr}"
    for name, attr in (("gan", "GAN"), ("ragan", "RAGAN"), ("wgan", "WGAN"), ("wgan-gp", "WGAN_GP"),
                       ("hinge", "HINGE"))
})
DETECTORS = Registry("detector", {"mtcnn": "keras_facesr.face.detect:FaceDetector"})

REGISTRIES: dict[str, Registry] = {r.kind: r for r in (GENERATORS, DISCRIMINATORS,
                                                        ADVERSARIAL_LOSSES, DETECTORS)}
